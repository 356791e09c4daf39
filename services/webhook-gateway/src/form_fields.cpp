#include "form_fields.hpp"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>

namespace fte::gateway {

std::optional<FormFields> parse_form_fields(std::string_view body) {
  // Boost.URL 1.81's parse_query runs strlen over its input (found by
  // fuzz/webform_fuzz.cpp: a read past a body that is not NUL-terminated), so
  // it gets a NUL-terminated copy, and a raw NUL, which form encoding never
  // contains (it would be %00), is rejected first.
  if (body.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  try {
    const std::string terminated(body);
    const auto parsed = boost::urls::parse_query(terminated);
    if (!parsed) {
      return std::nullopt;
    }
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    FormFields fields;
    fields.reserve(parsed->size());
    for (const auto& param : *parsed) {
      std::string name = param.key.decode(opts);
      if (name.empty()) continue;
      fields.emplace_back(std::move(name), param.has_value ? param.value.decode(opts) : std::string());
    }
    return fields;
  } catch (const std::exception&) {
    // Only allocation can throw here; a body too large to copy is not a form
    // this gateway can take either.
    return std::nullopt;
  }
}

} // namespace fte::gateway
