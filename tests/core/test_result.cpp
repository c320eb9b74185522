#include <catch2/catch.hpp>

#include <memory>
#include <set>
#include <string>

#include "qslm/host/error.hpp"
#include "qslm/core/result.hpp"

using qslm::Failure;
using qslm::Result;
using qslm::Status;

TEST_CASE("Result holds either a value or a failure with a sentence") {
    Result<std::string> ok = std::string("spikes");
    REQUIRE(ok.ok());
    CHECK(*ok == "spikes");
    CHECK(ok.status() == Status::ok);

    Result<std::string> bad = Failure{Status::bad_shape, "rows must be positive"};
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status() == Status::bad_shape);
    CHECK(std::string(bad.message()) == "rows must be positive");
}

TEST_CASE("Result copies and moves its value and destroys it once") {
    auto p = std::make_shared<int>(5);
    {
        Result<std::shared_ptr<int>> a = p;
        Result<std::shared_ptr<int>> b = a;
        CHECK(p.use_count() == 3);
        Result<std::shared_ptr<int>> c = std::move(b);
        CHECK(p.use_count() == 3);
        c = Failure{Status::io_error, "gone"};
        CHECK(p.use_count() == 2);
    }
    CHECK(p.use_count() == 1);
}

TEST_CASE("qslm::Error carries the status code and an id in its message") {
    try {
        qslm::fail(Status::corrupt_data, "tensor 'head.weight': offsets out of bounds");
        FAIL("fail() returned");
    } catch (const qslm::Error& e) {
        CHECK(e.code() == Status::corrupt_data);
        CHECK(std::string(e.what()) == "qslm.corrupt_data: tensor 'head.weight': offsets out of bounds");
    }
    Result<int> r = Failure{Status::bad_bit_width, "bit-width must be between 1 and 8"};
    CHECK_THROWS_WITH(qslm::value_or_throw(r, "layer 3"),
                      "qslm.bad_bit_width: layer 3: bit-width must be between 1 and 8");
    CHECK(qslm::value_or_throw(Result<int>(4)) == 4);
}

TEST_CASE("every status has a distinct name") {
    std::set<std::string> names;
    for (int s = 0; s <= static_cast<int>(Status::cancelled); ++s)
        names.insert(qslm::to_string(static_cast<Status>(s)));
    CHECK(names.size() == static_cast<std::size_t>(Status::cancelled) + 1);
    CHECK(names.count("unknown") == 0);
}
