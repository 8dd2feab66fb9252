// libFuzzer target for the chat transform: any bytes as a chat document. It must not crash,
// hang or leak, and what it emits must be storable: every tuple decodes, text columns are
// valid UTF-8 without NUL, JSON columns are JSON that PostgreSQL's json type would accept.
// Build: cmake -DSLUICE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++; run: build-fuzz/fuzz_transform tests/tools/fuzz_seeds
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/copy_binary.h"
#include "engine/utf8.h"
#include "stages/chat_message/chat_scan.h"
#include "stages/chat_message/chat_transform.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static stages::ChatTransform transform(1750000000, /*validate_utf8=*/true);
    static stages::TransformOutput out;
    static stages::scan::Result check;
    static std::string work;
    // NUL-terminated, as libpq gives it, with room behind it as any real allocation has: RapidJSON's
    // SSE2 whitespace skip reads aligned 16-byte blocks, which ASan would otherwise flag.
    static std::string doc;
    doc.reserve(size + 16);
    doc.assign(reinterpret_cast<const char*>(data), size);
    out.clear();
    transform.run({"chat", "user", std::string_view(doc)}, out);
    const auto& columns = stages::chat_message_columns();
    for (std::size_t i = 0; i < out.rows.count(); ++i) {
        auto fields = engine::decode_tuple(out.rows.tuple(i));
        if (fields.size() != columns.size()) std::abort();
        for (std::size_t c = 0; c < fields.size(); ++c) {
            if (fields[c].is_null) continue;
            if (columns[c].kind == engine::ColumnKind::text && !engine::storable_as_text(fields[c].bytes)) std::abort();
            if (columns[c].kind == engine::ColumnKind::json) {
                static std::string value;
                value.reserve(fields[c].bytes.size() + 16);
                value.assign(fields[c].bytes);
                stages::scan::scan_document(value, check, work);
                if (check.outcome == stages::scan::Outcome::unparsable) std::abort();
            }
        }
    }
    return 0;
}
