#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodLinux
import Testing

extension CrpodInstance {
    /// A counter in pod `pod`, checkpointed into an archive; returns the archive path and the
    /// last count logged before the checkpoint. `flags` go to `crpod checkpoint`.
    func checkpointedCounter(pod: String, name: String = "c", rootfs: String = PrivilegedHost.rootfs,
                             flags: [String] = []) async throws -> (archive: String, lastCount: Int) {
        try await ok(["run", "--name", name, "--pod", pod, "--rootfs", rootfs, "--"] + busyCounter)
        #expect(try await eventually { lastCount(try await ok(["logs", name])) ?? 0 >= 3 })
        let archive = base + "/\(name).tar.zst"
        try await ok(["checkpoint", "--export", archive] + flags + [name])
        return (archive, try #require(lastCount(try await ok(["logs", name]))))
    }

    /// Runs `crpod <arguments>` expecting a refusal that mentions `message`, and checks it
    /// changed nothing: same leftovers, same containers, archive bytes unchanged.
    func expectRefusal(_ arguments: [String], _ message: String, archive: String?, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try await leftovers()
        let containers = try await ok(["ps", "-a", "-q"])
        let bytes = try archive.map { try Files.read($0) }
        let outcome = try await run(arguments)
        #expect(!outcome.ok, sourceLocation: sourceLocation)
        #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)", sourceLocation: sourceLocation)
        #expect(try await leftovers() == before, "nothing left behind", sourceLocation: sourceLocation)
        #expect(try await ok(["ps", "-a", "-q"]) == containers, sourceLocation: sourceLocation)
        if let archive, let bytes { #expect(try Files.read(archive) == bytes, "archive untouched", sourceLocation: sourceLocation) }
        #expect(((try? Files.listDirectory(root + "/work")) ?? []).isEmpty, "no temp dir left", sourceLocation: sourceLocation)
    }

    /// The PID of a container and of a pod's infra, from their JSON.
    func pid(ofContainer name: String) async throws -> Int32 {
        try #require(try await json(ContainerJSON.self, ["inspect", name]).pid)
    }

    func infraPid(ofPod name: String) async throws -> Int32 {
        try #require(try await json(PodJSON.self, ["pod", "inspect", name]).infraPid)
    }

    /// A copy of the busybox rootfs with a static `ipc-hold KEY` that creates a SysV shm
    /// segment with that key and sleeps.
    func rootfsWithIPCHold() async throws -> String {
        try await rootfsWithProgram("ipc-hold", source: ipcHoldSource)
    }

    /// A copy of the busybox rootfs with `/bin/<name>` built statically from the C `source`.
    func rootfsWithProgram(_ name: String, source: String) async throws -> String {
        let rootfs = base + "/rootfs-\(name)"
        try #require(try await runner.run("/bin/cp", ["-a", PrivilegedHost.rootfs, rootfs]).succeeded)
        let sourcePath = base + "/\(name).c"
        try Files.writeAtomically(sourcePath, Array(source.utf8))
        let built = try await runner.run("/usr/bin/gcc", ["-O2", "-static", "-o", rootfs + "/bin/\(name)", sourcePath])
        #expect(built.succeeded, "gcc: \(built.stderr)")
        return rootfs
    }

    /// The keys of the SysV shm segments in a process's IPC namespace.
    func shmKeys(inNamespaceOf pid: Int32) async throws -> [Int] {
        let result = try await runner.run("/usr/bin/nsenter", ["--ipc=/proc/\(pid)/ns/ipc", "cat", "/proc/sysvipc/shm"])
        try #require(result.succeeded, "nsenter: \(result.stderr)")
        return result.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }.sorted()
    }

    /// `nattch` of the segment with `key` in the IPC namespace of `pid` (/proc/sysvipc/shm:
    /// key shmid perms size cpid lpid nattch …).
    func shmAttachCount(key: Int, inNamespaceOf pid: Int32) async throws -> Int? {
        let result = try await runner.run("/usr/bin/nsenter", ["--ipc=/proc/\(pid)/ns/ipc", "cat", "/proc/sysvipc/shm"])
        try #require(result.succeeded, "nsenter: \(result.stderr)")
        let row = result.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ") }.first { $0.first.flatMap { Int($0) } == key }
        return row.flatMap { $0.count > 6 ? Int($0[6]) : nil }
    }

    func hostname(ofProcess pid: Int32) async throws -> String {
        let result = try await runner.run("/usr/bin/nsenter", ["--uts=/proc/\(pid)/ns/uts", "hostname"])
        return String(result.stdout.filter { $0 != "\n" })
    }
}

let ipcHoldSource = """
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int key = argc > 1 ? atoi(argv[1]) : 1;
    int id = shmget((key_t)key, 4096, IPC_CREAT | 0600);
    if (id < 0) { perror("shmget"); return 1; }
    printf("shm key %d id %d\\n", key, id);
    fflush(stdout);
    for (;;) pause();
}
"""
