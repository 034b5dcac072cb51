#if canImport(Glibc)
import Glibc
#endif

extension ArchiveWriter {
    /// Streams exactly `size` bytes from `source` into the current member and records it in the
    /// manifest with its SHA-256. A member larger than one chunk is hashed on a worker thread
    /// (`ChunkPipeline`) while this thread reads the next chunk and hands it to libarchive, whose
    /// zstd workers compress beside both: reading, hashing and compressing overlap.
    func writeContent(from source: Int32, size: UInt64, name: String, sourcePath: String) throws(ArchiveError) {
        let hasher = try SHA256Hasher()
        if hashesOnWorker, size > UInt64(buffer.count), let pipeline = startHashPipeline(hasher) {
            do throws(ArchiveError) {
                try streamPipelined(from: source, size: size, through: pipeline, name: name, sourcePath: sourcePath)
            } catch {
                pipeline.finish()
                throw error
            }
            pipeline.finish()
        } else {
            var done: UInt64 = 0
            while done < size {
                let chunk = try readChunk(from: source, into: buffer, done: done, size: size, sourcePath: sourcePath)
                hasher.update(chunk)
                try writeData(chunk, name: name)
                done += UInt64(chunk.count)
            }
        }
        try finishEntry(name: name)
        recordMember(name, size: size, sha256: try hasher.finalize())
    }

    /// The hashing worker, or nil when no thread could be started (the caller hashes inline).
    private func startHashPipeline(_ hasher: SHA256Hasher) -> ChunkPipeline? {
        if pipelineBuffers.isEmpty {
            pipelineBuffers = (0..<Self.pipelineDepth).map { _ in .allocate(byteCount: Self.chunkSize, alignment: 64) }
        }
        return ChunkPipeline.start(buffers: pipelineBuffers, hasher: hasher, onStart: onHashWorkerStart)
    }

    /// Each chunk is read into a free pipeline buffer, written to the archive (libarchive copies
    /// it), then queued for hashing; the buffer comes back once it is hashed.
    private func streamPipelined(
        from source: Int32, size: UInt64, through pipeline: ChunkPipeline, name: String, sourcePath: String
    ) throws(ArchiveError) {
        var done: UInt64 = 0
        while done < size {
            let index = pipeline.acquire()
            let chunk = try readChunk(from: source, into: pipeline.buffers[index], done: done, size: size, sourcePath: sourcePath)
            try writeData(chunk, name: name)
            pipeline.submit(index, count: chunk.count)
            done += UInt64(chunk.count)
        }
    }

    /// Reads the next piece of the member (at most one buffer, never past `size`); a short
    /// file poisons the writer, since its header already promised `size` bytes.
    private func readChunk(
        from source: Int32, into target: UnsafeMutableRawBufferPointer, done: UInt64, size: UInt64, sourcePath: String
    ) throws(ArchiveError) -> UnsafeRawBufferPointer {
        let want = Int(min(UInt64(target.count), size - done))
        let n: Int
        do throws(ArchiveError) {
            n = try sys("read", path: sourcePath) { read(source, target.baseAddress, want) }
        } catch {
            throw fail(error)
        }
        if n == 0 { throw fail(.fileChanged(path: sourcePath, expected: size, read: done)) }
        return UnsafeRawBufferPointer(rebasing: target[0..<n])
    }
}
