/// `cgroup.img` (criu images/cgroup.proto): `cgroup_entry { repeated cg_set_entry sets = 1;
/// repeated cg_controller_entry controllers = 2; }` with `cg_controller_entry { repeated
/// string cnames = 1; ... }`. The unified hierarchy is the controller named "" (one empty
/// name); every other controller entry is a cgroup v1 hierarchy.
public enum CRIUCgroupImage {
    public static let name = "cgroup.img"
    static let magic: UInt32 = 0x5938_3330

    /// The v1 controllers the checkpoint recorded (`cpu,cpuacct`, `name=systemd`); empty for
    /// a checkpoint taken where crpod managed cgroup v2 alone.
    public static func v1Controllers(_ bytes: [UInt8], image: String = name) throws -> [String] {
        try controllers(bytes, image: image).filter { $0 != [""] }.map { $0.joined(separator: ",") }
    }

    /// Every hierarchy the checkpoint recorded, as its controller names (`[""]` is the
    /// unified hierarchy; `["cpu", "cpuacct"]` a v1 hierarchy of two controllers).
    public static func controllers(_ bytes: [UInt8], image: String = name) throws -> [[String]] {
        let start = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.common, magic: magic)
        var reader = try CRIUImage.entry(bytes, from: start, image: image)
        var found: [[String]] = []
        while !reader.isAtEnd {
            guard let (number, value) = try reader.nextField() else { break }
            guard number == 2 else { continue }
            var controller = ProtobufReader(bytes, range: try reader.bytesRange(value, field: 2), image: image)
            var names: [String] = []
            while !controller.isAtEnd {
                guard let (field, name) = try controller.nextField() else { break }
                if field == 1 { names.append(String(decoding: bytes[try controller.bytesRange(name, field: 1)], as: UTF8.self)) }
            }
            found.append(names)
        }
        return found
    }
}
