#ifndef CRPOD_FUZZER_DRIVER_H
#define CRPOD_FUZZER_DRIVER_H

/// Runs libFuzzer on LLVMFuzzerTestOneInput (defined by the Swift fuzz target).
///
/// Why: SwiftPM links every ELF executable with `--defsym main=<module>_main`, and that
/// symbol does not exist when the module is built with -parse-as-library, which libFuzzer
/// targets need. So each target defines `<module>_main` itself (see FuzzerEntry in each
/// target) and calls this, which enters libFuzzer through LLVMFuzzerRunDriver. libFuzzer's
/// own `main` is then never linked (`main` is already defined by the alias).
int crpod_fuzzer_main(int argc, char **argv);

#endif
