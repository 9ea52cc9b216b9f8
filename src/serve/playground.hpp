// The playground page of `gpt2 serve` (GET /), embedded in the binary.
#pragma once

namespace gpt2::serve {

// The whole page: HTML with its styles and script inline, nothing external.
const char* playground_html();

}  // namespace gpt2::serve
