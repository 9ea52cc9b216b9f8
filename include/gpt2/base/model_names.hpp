// Released model names, aliases and where a model lives on disk.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gpt2 {

// The four released sizes, in order: 124M, 355M, 774M, 1558M.
const std::vector<std::string>& released_model_names();

// Maps the old names (117M -> 124M, 345M -> 355M) to the current ones; any other
// string is returned unchanged.
std::string canonical_model_name(const std::string& name);

// True if `name` (after aliasing) is one of the released sizes.
bool is_released_model(const std::string& name);

// Default models directory: $GPT2_MODELS_DIR if set and non-empty, else "models".
std::filesystem::path default_models_dir();

// The --models-dir option's value, or default_models_dir() when it is empty.
std::filesystem::path models_dir_or_default(const std::string& option_value);

// Where the model named `model` lives. `model` may be a released name or alias
// (looked up under `models_dir`), or a path to a directory (contains a '/' or
// exists as given). Throws NotFoundError, naming the `gpt2 download` command that
// fetches it, when the directory does not exist.
std::filesystem::path resolve_model_dir(const std::string& model,
                                        const std::filesystem::path& models_dir);

// Like resolve_model_dir but never throws: nullopt when missing.
std::optional<std::filesystem::path> find_model_dir(const std::string& model,
                                                    const std::filesystem::path& models_dir);

}  // namespace gpt2
