#pragma once
// Writing a file so that an interrupted write never leaves a half file under the real name:
// write everything to a temporary file in the same directory, flush it to disk (fsync), then
// rename it over the target (atomic on POSIX file systems), then fsync the directory so the
// rename itself survives a power cut. On any failure the temporary file is removed and the
// previous file (if any) is left untouched.

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <span>
#include <string>

#include "qslm/host/error.hpp"
#include "qslm/io/file_bytes.hpp"  // QSLM_IO_HAVE_POSIX and the POSIX headers

namespace qslm::io {

struct AtomicWriteOptions {
    /// fsync the file and its directory. Leave on for real output; tests may turn it off.
    bool sync = true;
    /// Called with the temporary file's path after it is completely written and before it is
    /// renamed into place; an exception thrown here aborts the write (the tests use it to show
    /// that an interrupted write leaves the target untouched).
    std::function<void(const std::filesystem::path& temporary)> before_rename = {};
};

namespace detail {
inline std::string temporary_suffix() {
    static std::atomic<unsigned> counter{0};
    thread_local std::mt19937 rng{std::random_device{}()};
    static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string s = ".tmp-";
    for (int i = 0; i < 6; ++i) s += digits[rng() % 36];
    s += std::to_string(counter.fetch_add(1) % 1000);
    return s;
}
}  // namespace detail

/// Writes `bytes` to `path` atomically. Fails with io_error naming the file and the reason.
inline void write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                                  const AtomicWriteOptions& options = {}) {
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    std::filesystem::path temp;
#if QSLM_IO_HAVE_POSIX
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        temp = path;
        temp += detail::temporary_suffix();
        fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            fail(Status::io_error, "cannot create '" + temp.string() + "': " + std::strerror(errno));
    }
    if (fd < 0) fail(Status::io_error, "cannot find a free temporary name next to '" + path.string() + "'");
    auto abandon = [&](const std::string& why) {
        if (fd >= 0) ::close(fd);
        fd = -1;
        ::unlink(temp.c_str());
        fail(Status::io_error, why);
    };
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ::ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            abandon("cannot write '" + temp.string() + "': " + std::strerror(errno));
        }
        done += static_cast<std::size_t>(n);
    }
    if (options.sync && ::fsync(fd) != 0) abandon("cannot flush '" + temp.string() + "': " + std::strerror(errno));
    if (::close(fd) != 0) {
        fd = -1;
        abandon("cannot close '" + temp.string() + "': " + std::strerror(errno));
    }
    fd = -1;
    if (options.before_rename) {
        try {
            options.before_rename(temp);
        } catch (...) {
            ::unlink(temp.c_str());
            throw;
        }
    }
    if (::rename(temp.c_str(), path.c_str()) != 0)
        abandon("cannot rename '" + temp.string() + "' to '" + path.string() + "': " + std::strerror(errno));
    if (options.sync) {
        const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)::fsync(dfd);  // best effort: some file systems refuse fsync on directories
            ::close(dfd);
        }
    }
#else
    temp = path;
    temp += detail::temporary_suffix();
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        out.flush();
        if (!out) {
            std::error_code ec;
            std::filesystem::remove(temp, ec);
            fail(Status::io_error, "cannot write '" + temp.string() + "'");
        }
    }
    if (options.before_rename) {
        try {
            options.before_rename(temp);
        } catch (...) {
            std::error_code ec;
            std::filesystem::remove(temp, ec);
            throw;
        }
    }
    std::error_code ec;
    std::filesystem::rename(temp, path, ec);
    if (ec) {
        std::filesystem::remove(temp, ec);
        fail(Status::io_error, "cannot rename '" + temp.string() + "' to '" + path.string() + "'");
    }
#endif
}

}  // namespace qslm::io
