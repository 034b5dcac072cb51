extension NativeEngine {
    /// `criu dump` of `id` (helper slice: to be written).
    public func checkpoint(id: String, options: CheckpointOptions, logPath: String?) async throws {
        throw NativeEngineError.unsupported(id: id, what: "native checkpoint is not written yet")
    }
}
