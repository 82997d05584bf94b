// A CSV reader with the semantics of Go's encoding/csv (the reader buildx and cty use for
// typed variable overrides and csvdecode): comma-separated fields, double-quoted fields with ""
// for a quote, blank lines skipped, \r\n accepted, and Go's error texts for bare and
// unterminated quotes. Internal to the hcl component.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::frontend::bake::hcl::internal {

// Reads every record of `text`. When `same_field_count` is set, every record must have as many
// fields as the first ("record on line N: wrong number of fields").
Result<std::vector<std::vector<std::string>>> ReadCsv(std::string_view text, bool same_field_count);

}  // namespace berth::frontend::bake::hcl::internal
