import SystemPackage

extension NativeEngine {
    /// `criu restore` of `id` from `options` (helper slice: to be written).
    public func restore(id: String, options: RestoreOptions, stdio: FileDescriptor?, logPath: String) async throws {
        throw NativeEngineError.unsupported(id: id, what: "native restore is not written yet")
    }
}
