// The indexes phase's progress: how far a build is, from pg_stat_progress_create_index's phases,
// and the line that names what each connection builds.
#include <doctest/doctest.h>

#include "stages/chat_message/index_progress.h"

using sluice::engine::Reading;
using sluice::stages::IndexProgress;

TEST_CASE("the indexes phase reads how far each build is: scanning counts as 60%, sorting to 70%, loading the rest") {
    CHECK(IndexProgress::build_fraction("building index: scanning table", 50, 100, 0, 0) == doctest::Approx(0.3));
    CHECK(IndexProgress::build_fraction("building index: sorting live tuples", 100, 100, 0, 0) ==
          doctest::Approx(0.65));
    CHECK(IndexProgress::build_fraction("building index: loading tuples in tree", 100, 100, 50, 100) ==
          doctest::Approx(0.85));
    CHECK(IndexProgress::build_fraction("initializing", 0, 0, 0, 0) == 0);
    IndexProgress progress("", 7);  // no display is current: it shows nothing and polls nothing
    progress.started(11, "ix_chat_message_user_id");
    progress.started(12, "ix_chat_message_model_id");
    progress.built(11);
    const Reading r = progress.reading();
    CHECK(r.done == doctest::Approx(1));
    CHECK(r.total == doctest::Approx(7));
    CHECK_MESSAGE(r.text == "built 1 of 7; ix_chat_message_model_id: starting", r.text);
}
