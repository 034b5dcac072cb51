import FuzzSupport

/// The program's entry: SwiftPM aliases `main` to `<module>_main` (see CFuzzerDriver.h).
@_cdecl("fuzz_images_main")
public func fuzzerEntry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    crpod_fuzzer_main(argc, argv)
}
