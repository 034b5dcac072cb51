#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Synchronization
import Testing

/// Extraction, hashing and validation of an import run without the state lock: two restores
/// through the daemon (max_jobs = 2) extract at the same time. Evidence by ordering, not wall
/// time (this machine is shared): the two restores' work directories are seen at once. With
/// the whole import under the lock, a work directory is created and removed inside it, so at
/// most one ever exists.
@Suite("restore pipeline overlap", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct RestoreOverlapTests {
    @Test("two API restores of a 64 MiB archive extract at the same time, and both restore")
    func extractionsOverlap() async throws {
        try await withCrpod { crpod in
            let rootfs = try await crpod.rootfsWithProgram("big-counter", source: bigCounterSource)
            let archives = crpod.base + "/archives"
            try Files.makeDirectories(archives, mode: 0o700)
            for pod in ["src", "t1", "t2"] { try await crpod.ok(["pod", "create", pod]) }
            try await crpod.ok(["run", "--name", "big", "--pod", "src", "--rootfs", rootfs, "--", "/bin/big-counter", "64"])
            #expect(try await eventually(seconds: 30) { lastCount(try await crpod.ok(["logs", "big"])) ?? 0 >= 1 })
            let archive = archives + "/big.tar.zst"
            try await crpod.ok(["checkpoint", "--export", archive, "big"])
            let daemon = try await DaemonProcess(crpod, config: ["max_jobs = 2", "api_dir = \(archives)"])

            let watcher = WorkDirectoryWatcher(directory: crpod.root + "/work")
            let answers = Mutex<[String: Int]>([:])
            let group = DispatchGroup()
            let socket = daemon.socket
            let started = ContinuousClock.now
            for target in ["t1", "t2"] {
                group.enter()
                Thread.detachNewThread {
                    let body = #"{"importPath":"\#(archive)","pod":"\#(target)","name":"r-\#(target)"}"#
                    let response = try? RawHTTP.request(socket: socket, method: "POST", path: "/v1/restore", body: Array(body.utf8))
                    answers.withLock { $0[target] = response?.status ?? 0 }
                    group.leave()
                }
            }
            let finished = try await BlockingThread.run("wait for both answers") { _ in group.wait(timeout: .now() + 180) }
            let elapsed = ContinuousClock.now - started
            let mostAtOnce = watcher.stop()
            #expect(finished == .success, "both restores answered")
            #expect(answers.withLock { $0 } == ["t1": 200, "t2": 200], "daemon log: \((try? Files.readText(crpod.base + "/daemon.log").suffix(2000)) ?? "")")
            #expect(mostAtOnce >= 2, "two restore work directories existed at the same time (most seen: \(mostAtOnce), both done in \(elapsed))")
            for target in ["t1", "t2"] {
                let restored = try await crpod.json(ContainerJSON.self, ["inspect", "r-\(target)"])
                #expect(restored.state == "running")
            }
            #expect(((try? Files.listDirectory(crpod.root + "/journal")) ?? []).isEmpty, "journal settled")
            #expect(((try? Files.listDirectory(crpod.root + "/work")) ?? []).isEmpty, "work directories removed")
            #expect(await daemon.stop() == 0)
        }
    }
}

/// Polls a directory on its own thread and remembers the most `restore-*` entries seen at once.
final class WorkDirectoryWatcher: Sendable {
    private let state = Mutex((running: true, most: 0))
    private let done = DispatchSemaphore(value: 0)

    init(directory: String) {
        Thread.detachNewThread { [self] in poll(directory) }
    }

    private func poll(_ directory: String) {
        while state.withLock({ $0.running }) {
            let count = ((try? Files.listDirectory(directory)) ?? []).filter { $0.hasPrefix("restore-") }.count
            state.withLock { $0.most = max($0.most, count) }
            usleep(2000)
        }
        done.signal()
    }

    /// Stops polling; the most entries seen at once.
    func stop() -> Int {
        state.withLock { $0.running = false }
        done.wait()
        return state.withLock { $0.most }
    }
}

/// Fills N MiB (argv[1]) with xorshift output — incompressible, like podman's benchmark
/// memory — then prints a counter every second.
let bigCounterSource = """
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    size_t size = (size_t)(argc > 1 ? atol(argv[1]) : 64) << 20;
    uint64_t *mem = malloc(size);
    if (mem == NULL) return 1;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < size / 8; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        mem[i] = x;
    }
    for (long i = 0;; i++) {
        printf("count %ld\\n", i);
        fflush(stdout);
        sleep(1);
    }
}
"""
