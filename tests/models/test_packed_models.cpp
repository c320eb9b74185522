// A .qslm runs as stored: its packed matrices are prepared for the low-bit GEMV kernel and are
// never expanded to float. This file has its own executable because it replaces the global
// operator new to count what loading allocates (under AddressSanitizer: its allocation hook).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <span>
#include <vector>

#include <qslm/io/atomic_file.hpp>
#include <qslm/io/crc32c.hpp>
#include <qslm/io/qslm_reader.hpp>
#include <qslm/io/qslm_writer.hpp>
#include <qslm/io/spikegpt_model.hpp>

#include "random_models.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::size_t> g_allocated{0};

/// Bytes allocated with operator new while `f` runs (this thread and any other).
template <class F>
std::size_t allocated_during(F&& f) {
    g_allocated = 0;
    g_counting = true;
    try {
        f();
    } catch (...) {
        g_counting = false;
        throw;
    }
    g_counting = false;
    return g_allocated.load();
}
}  // namespace

#if defined(__SANITIZE_ADDRESS__)
#define QSLM_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QSLM_TEST_UNDER_ASAN 1
#endif
#endif

#if defined(QSLM_TEST_UNDER_ASAN)
// Under AddressSanitizer its allocator owns new and delete: a replaced pair here would be mixed
// with its own across the shared libraries (a false alloc-dealloc mismatch at exit). It calls an
// allocation hook for every malloc and operator new instead, which counts the same bytes.
// (Declared here: GCC ships the runtime but not clang's <sanitizer/allocator_interface.h>.)
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, std::size_t),
                                                         void (*free_hook)(const volatile void*));
namespace {
void count_allocation(const volatile void*, std::size_t n) {
    if (g_counting.load(std::memory_order_relaxed)) g_allocated.fetch_add(n, std::memory_order_relaxed);
}
void ignore_free(const volatile void*) {}
[[maybe_unused]] const int g_hooks_installed = __sanitizer_install_malloc_and_free_hooks(count_allocation, ignore_free);
}  // namespace
#else
// GCC pairs the replaced operators below with its own idea of new/delete after inlining and
// reports a mismatch that is not there (both sides are malloc/free).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
    if (g_counting.load(std::memory_order_relaxed)) g_allocated.fetch_add(n, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
    if (g_counting.load(std::memory_order_relaxed)) g_allocated.fetch_add(n, std::memory_order_relaxed);
    const std::size_t al = static_cast<std::size_t>(a);
    if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#endif

using namespace qslm;

namespace {

struct QuantizedModel {
    models::SpikeGptModel model;
    std::vector<AnyPackedTensor> packed;
    std::vector<const AnyPackedTensor*> ptrs;
    std::size_t matrix_float_bytes = 0;
};

/// A random SpikeGPT (2 blocks x 128, ffn 512, vocab 64) with every matrix at `bits`,
/// per-channel, and the binary embedding as its 1-bit sign code (as the quantizer stores it).
QuantizedModel quantized_model(int bits, ScaleLayout layout = ScaleLayout::per_channel()) {
    QuantizedModel q{models::SpikeGptModel::from_checkpoint(qslm_test::random_spikegpt(2, 128, 64, 31)), {}, {}, 0};
    for (std::size_t m = 0; m < q.model.matrices().size(); ++m) {
        const auto& info = q.model.matrices()[m];
        q.matrix_float_bytes += info.rows * info.cols * sizeof(float);
        const bool sign = m == 0 && q.model.options().binary_embedding;
        q.packed.push_back(value_or_throw(AnyPackedTensor::quantize(sign ? 1 : bits, q.model.matrix_weights(m), info.rows, info.cols,
                                                                    QuantSpec{.layout = sign ? ScaleLayout::per_tensor() : layout}),
                                          info.name));
    }
    for (const auto& p : q.packed) q.ptrs.push_back(&p);
    return q;
}

std::filesystem::path scratch_file(const char* name) {
    const auto dir = std::filesystem::path(QSLM_BINARY_DIR) / "tests" / "models";
    std::filesystem::create_directories(dir);
    return dir / name;
}

std::vector<std::uint32_t> some_tokens(std::size_t n, std::uint32_t vocab) {
    std::vector<std::uint32_t> t;
    for (std::uint32_t i = 0; i < n; ++i) t.push_back((i * 37u + 11u) % vocab);
    return t;
}

}  // namespace

TEST_CASE("loading a packed .qslm allocates its packed weights, not float matrices") {
    for (const int bits : {2, 4, 8}) {
        CAPTURE(bits);
        auto q = quantized_model(bits);
        const auto path = scratch_file("packed_load.qslm");
        io::save_qslm(path, q.model.to_qslm(q.ptrs));
        std::optional<models::SpikeGptModel> loaded;
        const std::size_t bytes = allocated_during([&] { loaded.emplace(models::SpikeGptModel::load(path)); });
        INFO(bytes << " bytes allocated while loading (and verifying) a model whose matrices are " << q.matrix_float_bytes
                   << " bytes as float32");
        // The prepared weights take about bits/32 of the float bytes (plus scales and the
        // kernel's row padding); the float vectors, the parse and the test-vector run are small.
        // Any float copy of the matrices would exceed this bound on its own.
        CHECK(bytes < q.matrix_float_bytes * static_cast<std::size_t>(bits) / 32 + q.matrix_float_bytes / 8);
        // ...and the count is real: the prepared codes alone are at least half of bits/32 (a
        // counter that saw nothing, e.g. a hook that was not installed, would pass the bound).
        CHECK(bytes >= q.matrix_float_bytes * static_cast<std::size_t>(bits) / 64);
        REQUIRE(loaded->holds_packed());
        CHECK(loaded->float_fallbacks().empty());
        for (std::size_t m = 0; m < loaded->matrices().size(); ++m) CHECK(loaded->is_packed(m));
        CHECK(loaded->resident_weight_bytes() < q.matrix_float_bytes * static_cast<std::size_t>(bits) / 32 + q.matrix_float_bytes / 16);
        CHECK_THROWS_WITH(loaded->original_weights(3), Catch::Contains("blocks.0.att.receptance.weight is held packed"));
    }
}

TEST_CASE("a packed model computes what packed_instance computes, batched or not, and verifies its test vector") {
    auto q = quantized_model(4, ScaleLayout::per_group(64));
    const auto path = scratch_file("packed_group.qslm");
    const io::QslmModel file = q.model.to_qslm(q.ptrs);
    REQUIRE(file.config().value("test_vector_arithmetic", std::string()) == models::SpikeGptModel::lowbit_arithmetic);
    io::save_qslm(path, file);
    const auto loaded = models::SpikeGptModel::load(path);
    const auto tokens = some_tokens(24, 64);
    const auto single = loaded.logits(std::span<const std::uint32_t>(tokens));
    CHECK(single == q.model.packed_instance(q.ptrs).logits(std::span<const std::uint32_t>(tokens)));
    // Streams batched together give each stream's own bits (the kernel quantizes every
    // stream's activations separately).
    std::vector<std::vector<std::uint32_t>> seqs = {tokens, some_tokens(9, 64), tokens};
    const auto many = loaded.instance().logits_many(seqs, {.threads = 1, .batch = 3});
    CHECK(many[0] == single);
    CHECK(many[2] == single);
    // Loaded as floats, the file's low-bit test vector is checked on a packed copy, so both
    // forms load; the float form runs the float path.
    const auto as_float = models::SpikeGptModel::load(path, {.weights = models::WeightForm::float32});
    CHECK_FALSE(as_float.holds_packed());
    // A damaged expected output is caught whichever form is loaded.
    io::QslmModel damaged = file;
    damaged.test_vector->expected[5] += 0.5f;
    CHECK_THROWS_WITH(loaded.verify(damaged), Catch::Contains("end-to-end check failed"));
    CHECK_THROWS_WITH(as_float.verify(damaged), Catch::Contains("end-to-end check failed"));
}

TEST_CASE("hostile .qslm files are refused before anything large is allocated") {
    auto q = quantized_model(4);
    io::QslmModel file = q.model.to_qslm(q.ptrs);
    const auto path = scratch_file("hostile.qslm");

    SECTION("a packed tensor declares far more weights than its payload holds") {
        // The writer refuses such a file, so patch a valid one: the record's row count (12
        // bytes after the name), then the CRC-32C trailer, so that only the structure is wrong.
        std::vector<std::uint8_t> bytes = io::serialize_qslm(file);
        const std::string name = "blocks.1.ffn.key.weight";
        const auto at = std::search(bytes.begin(), bytes.end(), name.begin(), name.end());
        REQUIRE(at != bytes.end());
        const std::size_t rows_at = static_cast<std::size_t>(at - bytes.begin()) + name.size() + 12;
        const std::uint32_t rows = 1u << 20;  // 1 M x 128 4-bit weights: 64 MiB declared
        for (int i = 0; i < 4; ++i) bytes[rows_at + i] = static_cast<std::uint8_t>(rows >> (8 * i));
        const std::uint32_t crc = io::crc32c(std::span<const std::uint8_t>(bytes.data(), bytes.size() - 4));
        for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
        io::write_file_atomically(path, bytes);
        CHECK_THROWS_WITH(allocated_during([&] { (void)models::SpikeGptModel::load(path); }),
                          Catch::Contains("blocks.1.ffn.key.weight"));
        INFO(g_allocated.load() << " bytes allocated before the error");
        CHECK(g_allocated.load() < (std::size_t{1} << 20));
    }
    SECTION("consistent tensors of the wrong shape for the model are listed, not prepared") {
        for (auto& t : file.tensors)
            if (t.name == "head.weight") {
                t = io::QslmTensor::from_any("head.weight", value_or_throw(AnyPackedTensor::quantize(
                                                                   4, std::vector<float>(32 * 128, 0.5f), 32, 128, {})));
            }
        io::save_qslm(path, file);
        CHECK_THROWS_WITH(models::SpikeGptModel::load(path), Catch::Contains("'head.weight' is [32, 128], expected [64, 128]"));
    }
    SECTION("a missing matrix is named") {
        file.tensors.erase(std::find_if(file.tensors.begin(), file.tensors.end(),
                                        [](const auto& t) { return t.name == "blocks.0.att.value.weight"; }));
        file.test_vector.reset();
        io::save_qslm(path, file);
        CHECK_THROWS_WITH(models::SpikeGptModel::load(path), Catch::Contains("missing 1 tensor(s): blocks.0.att.value.weight"));
    }
}
