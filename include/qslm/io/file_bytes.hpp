#pragma once
// FileBytes: the bytes of a file (memory-mapped where the platform allows, otherwise read into
// memory) or of a caller's buffer, with shared ownership so that views into them (tensor
// payloads, safetensors data) stay valid as long as any holder lives.
//
// Memory mapping: a loaded model's packed payload is used in place, without a copy. The
// usual caveat of mmap applies: if another process truncates the file while it is mapped,
// touching the lost pages raises SIGBUS. Use ReadMode::copy for files that may change.

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qslm/host/error.hpp"

#if defined(__has_include)
#  if __has_include(<sys/mman.h>) && __has_include(<sys/stat.h>) && __has_include(<fcntl.h>) && __has_include(<unistd.h>)
#    include <fcntl.h>
#    include <sys/mman.h>
#    include <sys/stat.h>
#    include <unistd.h>
#    define QSLM_IO_HAVE_POSIX 1
#  endif
#endif
#ifndef QSLM_IO_HAVE_POSIX
#  define QSLM_IO_HAVE_POSIX 0
#endif

namespace qslm::io {

enum class ReadMode : std::uint8_t {
    map_if_possible,  ///< mmap regular files; fall back to reading them when mapping fails
    copy,             ///< always read into memory (safe if the file may be rewritten meanwhile)
};

class FileBytes {
public:
    FileBytes() = default;

    /// Reads or maps `path`. Fails with io_error naming the file and the system's reason.
    static FileBytes open(const std::filesystem::path& path, ReadMode mode = ReadMode::map_if_possible) {
#if QSLM_IO_HAVE_POSIX
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail(Status::io_error, "cannot open '" + path.string() + "': " + std::strerror(errno));
        struct FdCloser {
            int fd;
            ~FdCloser() { ::close(fd); }
        } closer{fd};
        struct stat st {};
        if (::fstat(fd, &st) != 0)
            fail(Status::io_error, "cannot stat '" + path.string() + "': " + std::strerror(errno));
        if (S_ISDIR(st.st_mode)) fail(Status::io_error, "'" + path.string() + "' is a directory, not a file");
        if (S_ISREG(st.st_mode)) {
            const auto size = static_cast<std::size_t>(st.st_size);
            if (size == 0) return adopt(std::vector<std::uint8_t>{}, path.string());
            if (mode == ReadMode::map_if_possible) {
                void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
                if (p != MAP_FAILED) {
                    FileBytes f;
                    f.owner_ = std::shared_ptr<const void>(p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
                    f.bytes_ = {static_cast<const std::uint8_t*>(p), size};
                    f.name_ = path.string();
                    f.mapped_ = true;
                    return f;
                }
            }
            return adopt(read_fd(fd, path, size), path.string());
        }
        return adopt(read_fd(fd, path, 0), path.string());  // a pipe or device: read until EOF
#else
        (void)mode;
        std::ifstream in(path, std::ios::binary);
        if (!in) fail(Status::io_error, "cannot open '" + path.string() + "'");
        std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (in.bad()) fail(Status::io_error, "cannot read '" + path.string() + "'");
        return adopt(std::move(data), path.string());
#endif
    }

    /// Takes ownership of bytes already in memory.
    static FileBytes adopt(std::vector<std::uint8_t> data, std::string name = "buffer") {
        auto owned = std::make_shared<const std::vector<std::uint8_t>>(std::move(data));
        FileBytes f;
        f.bytes_ = {owned->data(), owned->size()};
        f.owner_ = std::move(owned);
        f.name_ = std::move(name);
        return f;
    }

    /// Refers to a caller's buffer without copying: the caller keeps it alive and unchanged
    /// for as long as this object and anything read from it are in use.
    static FileBytes borrow(std::span<const std::uint8_t> data, std::string name = "buffer") {
        FileBytes f;
        f.bytes_ = data;
        f.name_ = std::move(name);
        return f;
    }

    [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    /// The file name (or "buffer"), for error messages.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] bool is_mapped() const noexcept { return mapped_; }
    /// Keeps the bytes alive; empty for borrowed buffers.
    [[nodiscard]] const std::shared_ptr<const void>& owner() const noexcept { return owner_; }

private:
#if QSLM_IO_HAVE_POSIX
    static std::vector<std::uint8_t> read_fd(int fd, const std::filesystem::path& path, std::size_t size_hint) {
        std::vector<std::uint8_t> data;
        try {
            data.reserve(size_hint);
            std::uint8_t chunk[1 << 16];
            for (;;) {
                const ::ssize_t n = ::read(fd, chunk, sizeof chunk);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    fail(Status::io_error, "cannot read '" + path.string() + "': " + std::strerror(errno));
                }
                if (n == 0) break;
                data.insert(data.end(), chunk, chunk + n);
            }
        } catch (const std::bad_alloc&) {
            fail(Status::io_error, "not enough memory to read '" + path.string() + "'");
        }
        return data;
    }
#endif

    std::shared_ptr<const void> owner_;
    std::span<const std::uint8_t> bytes_;
    std::string name_ = "buffer";
    bool mapped_ = false;
};

}  // namespace qslm::io
