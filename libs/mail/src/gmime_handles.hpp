#pragma once

#include <memory>

#include <gmime/gmime.h>

// Owning handles for the GMime and GLib objects the parser creates. GMime
// calls that return borrowed pointers (getters) are used bare; everything a
// *_new or construct call returns is owned by one of these.
namespace fte::mail::detail {

struct GObjectUnref {
  void operator()(void* object) const noexcept {
    if (object != nullptr) g_object_unref(object);
  }
};
template <class T> using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(void* memory) const noexcept { g_free(memory); }
};
using GString = std::unique_ptr<char, GFree>;

struct ParserOptionsFree {
  void operator()(GMimeParserOptions* options) const noexcept { g_mime_parser_options_free(options); }
};
using ParserOptionsPtr = std::unique_ptr<GMimeParserOptions, ParserOptionsFree>;

struct ReferencesFree {
  void operator()(GMimeReferences* references) const noexcept { g_mime_references_free(references); }
};
using ReferencesPtr = std::unique_ptr<GMimeReferences, ReferencesFree>;

/// g_mime_init, once per process, from whichever thread parses first.
/// GMime is never shut down: other threads may still be parsing at exit.
void ensure_gmime_initialized();

} // namespace fte::mail::detail
