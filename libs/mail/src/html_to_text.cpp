// HTML to text through gumbo's HTML5 parser and a walk over the DOM it
// builds. Two things gumbo does not do for us:
//
// * bound its resources. The HTML5 tree construction rules let a small input
//   build a huge tree: every text run re-creates every open formatting
//   element (<b id=1>...<b id=N> then "<div>x</div>" repeated: 45 KB of HTML
//   made gumbo 0.10.1 allocate 1.5 GB), and every start tag scans the stack
//   of open elements, so deep nesting is quadratic (100,000 nested <div>s:
//   40 s). An email is outside input, and a message that kills the
//   normalizer would be redelivered and kill it again. So gumbo allocates
//   from a budget; when the budget runs out the allocator longjmps out of
//   the parser (plain C frames, nothing to unwind), the budget frees every
//   block, and we parse a shorter prefix. The number of tags handed to
//   gumbo is capped as well, which bounds the quadratic scans.
// * recurse safely: the walk below keeps its own stack.
#include <csetjmp>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <gumbo.h>

#include "fte/mail/mail.hpp"
#include "text.hpp"

namespace fte::mail {
namespace {

// Input limits. A customer's message sits at the top of the HTML; what a
// cut loses is the tail (quoted history, newsletters' footers).
constexpr std::size_t kMaxHtmlBytes = 2 * 1024 * 1024;
// Start tags ('<' and a letter, counted without parsing: an upper bound).
// Tree construction costs O(depth) per start tag and depth grows only with
// start tags, so this bounds the time: 12,000 nested <div>s take 0.15 s.
constexpr std::size_t kMaxStartTags = 12'000;
// Formatting elements (<b>, <a>, <font>, ...) cost more: each new one is
// compared with every open one (the "Noah's Ark" clause), each text run
// re-creates the unclosed ones. 12,000 distinct <b>s take 1.3 s; 1,000, 0.01 s.
constexpr std::size_t kMaxFormattingTags = 1'000;
constexpr std::size_t kMinRetryBytes = 1024;
// Gumbo's memory: what may be live at once, and what may be allocated in
// total (the second bounds the time a pathological input can take).
constexpr std::size_t kMaxLiveBytes = 32 * 1024 * 1024;
constexpr std::size_t kMaxAllocatedBytes = 64 * 1024 * 1024;
// "> " markers drawn at most per line (see TextBuilder::flush).
constexpr int kMaxQuoteMarkers = 8;

// Every block gumbo allocates, linked so that an aborted parse can free them all.
class ParserBudget {
public:
  ParserBudget() = default;
  ParserBudget(const ParserBudget&) = delete;
  ParserBudget& operator=(const ParserBudget&) = delete;
  ~ParserBudget() {
    while (head_.next != &head_)
      release(head_.next);
  }

  GumboOptions options() {
    GumboOptions options = kGumboDefaultOptions;
    options.allocator = &ParserBudget::allocate;
    options.deallocator = &ParserBudget::deallocate;
    options.userdata = this;
    // Each parse error records a copy of the stack of open elements, which
    // is quadratic in the nesting depth; we never read them.
    options.max_errors = 0;
    return options;
  }

  // Runs gumbo; nullptr when it ran out of budget (its blocks stay linked
  // here and are freed with the budget). setjmp lives in this small function
  // so that the longjmp skips only gumbo's C frames and allocate(), none of
  // which has anything to destroy.
  GumboOutput* parse(const GumboOptions& options, std::string_view html) {
    if (setjmp(exhausted_) != 0) return nullptr;
    return gumbo_parse_with_options(&options, html.data(), html.size());
  }

private:
  struct alignas(std::max_align_t) Block {
    Block* prev;
    Block* next;
    std::size_t size;
  };

  static void* allocate(void* userdata, std::size_t size) {
    auto* self = static_cast<ParserBudget*>(userdata);
    if (size > kMaxLiveBytes - self->live_ || size > kMaxAllocatedBytes - self->allocated_) {
      std::longjmp(self->exhausted_, 1);
    }
    void* raw = std::malloc(sizeof(Block) + size); // NOLINT: gumbo's blocks are plain memory
    if (raw == nullptr) std::longjmp(self->exhausted_, 1);
    auto* block = static_cast<Block*>(raw);
    block->size = size;
    block->prev = &self->head_;
    block->next = self->head_.next;
    self->head_.next->prev = block;
    self->head_.next = block;
    self->live_ += size;
    self->allocated_ += size;
    return block + 1;
  }

  static void deallocate(void* userdata, void* pointer) {
    if (pointer == nullptr) return;
    static_cast<ParserBudget*>(userdata)->release(static_cast<Block*>(pointer) - 1);
  }

  void release(Block* block) {
    block->prev->next = block->next;
    block->next->prev = block->prev;
    live_ -= block->size;
    std::free(block); // NOLINT
  }

  Block head_{&head_, &head_, 0};
  std::size_t live_ = 0;
  std::size_t allocated_ = 0;
  std::jmp_buf exhausted_{};
};

// Renders text with the spacing rules of a plain-text mail: words separated
// by one space, block boundaries as line breaks, at most one blank line.
class TextBuilder {
public:
  void text(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        pending_space_ = true;
        continue;
      }
      // U+00A0 NO-BREAK SPACE: Outlook writes paragraphs of &nbsp; as spacing.
      if (c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0') {
        pending_space_ = true;
        ++i;
        continue;
      }
      flush();
      out_ += c;
    }
  }

  // Text inside <pre>: spaces and line breaks as written.
  void preformatted(std::string_view text) {
    for (const char c : text) {
      if (c == '\n') {
        line_break();
      } else if (c != '\r') {
        flush();
        out_ += c;
      }
    }
  }

  void line_break() {
    if (pending_newlines_ < 2) ++pending_newlines_;
    pending_space_ = false;
  }
  void block_boundary(int newlines) {
    if (newlines == 0) return;
    if (pending_newlines_ < newlines) pending_newlines_ = newlines;
    pending_space_ = false;
  }
  void space() { pending_space_ = true; }
  // Writes `marker` at the start of the current line (list bullets).
  void marker(std::string_view marker) {
    flush();
    out_ += marker;
  }

  void enter_quote() {
    block_boundary(1);
    ++quote_depth_;
  }
  void leave_quote() {
    block_boundary(1);
    if (quote_depth_ > 0) --quote_depth_;
  }

  [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }
  [[nodiscard]] std::string_view written_since(std::size_t offset) const {
    return std::string_view(out_).substr(offset);
  }

  std::string finish() && { return std::move(out_); }

private:
  // Before visible output: the line breaks, the quote prefix or the space
  // owed by what came before. Nothing is owed at the very start.
  void flush() {
    if (out_.empty()) {
      pending_newlines_ = 0;
      pending_space_ = false;
      at_line_start_ = true;
    }
    if (pending_newlines_ > 0) {
      out_.append(static_cast<std::size_t>(pending_newlines_), '\n');
      pending_newlines_ = 0;
      pending_space_ = false;
      at_line_start_ = true;
    }
    if (at_line_start_) {
      // Deeper quotes are drawn 8 deep: a prefix per nesting level on every
      // line would let nested <blockquote>s grow the text quadratically.
      for (int level = 0; level < quote_depth_ && level < kMaxQuoteMarkers; ++level)
        out_ += "> ";
      at_line_start_ = false;
    } else if (pending_space_) {
      out_ += ' ';
    }
    pending_space_ = false;
  }

  std::string out_;
  int pending_newlines_ = 0;
  bool pending_space_ = false;
  bool at_line_start_ = true;
  int quote_depth_ = 0;
};

const char* attribute(const GumboElement& element, const char* name) {
  const GumboAttribute* found = gumbo_get_attribute(&element.attributes, name);
  return found == nullptr ? nullptr : found->value;
}

// Elements whose content a mail reader never shows.
bool is_hidden(const GumboElement& element) {
  switch (element.tag) {
  case GUMBO_TAG_HEAD:
  case GUMBO_TAG_SCRIPT:
  case GUMBO_TAG_STYLE:
  case GUMBO_TAG_TITLE:
  case GUMBO_TAG_TEMPLATE:
  case GUMBO_TAG_NOSCRIPT:
  case GUMBO_TAG_NOFRAMES:
  case GUMBO_TAG_IFRAME:
  case GUMBO_TAG_OBJECT:
  case GUMBO_TAG_SELECT:
  case GUMBO_TAG_SVG:
  case GUMBO_TAG_MATH: return true;
  default: break;
  }
  if (attribute(element, "hidden") != nullptr) return true;
  // Newsletters' hidden preheaders: style="display: none".
  if (const char* style = attribute(element, "style")) {
    std::string compact;
    for (const char* c = style; *c != '\0'; ++c) {
      if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r') compact += *c;
    }
    if (detail::lower_ascii(compact).find("display:none") != std::string::npos) return true;
  }
  return false;
}

// Line breaks an element puts around itself: 2 for paragraphs, 1 for other blocks.
int block_newlines(GumboTag tag) {
  switch (tag) {
  case GUMBO_TAG_P:
  case GUMBO_TAG_H1:
  case GUMBO_TAG_H2:
  case GUMBO_TAG_H3:
  case GUMBO_TAG_H4:
  case GUMBO_TAG_H5:
  case GUMBO_TAG_H6:
  case GUMBO_TAG_HR: return 2;
  case GUMBO_TAG_ADDRESS:
  case GUMBO_TAG_ARTICLE:
  case GUMBO_TAG_ASIDE:
  case GUMBO_TAG_CAPTION:
  case GUMBO_TAG_CENTER:
  case GUMBO_TAG_DD:
  case GUMBO_TAG_DETAILS:
  case GUMBO_TAG_DIR:
  case GUMBO_TAG_DIV:
  case GUMBO_TAG_DL:
  case GUMBO_TAG_DT:
  case GUMBO_TAG_FIELDSET:
  case GUMBO_TAG_FIGCAPTION:
  case GUMBO_TAG_FIGURE:
  case GUMBO_TAG_FOOTER:
  case GUMBO_TAG_FORM:
  case GUMBO_TAG_HEADER:
  case GUMBO_TAG_HGROUP:
  case GUMBO_TAG_LI:
  case GUMBO_TAG_MAIN:
  case GUMBO_TAG_MENU:
  case GUMBO_TAG_NAV:
  case GUMBO_TAG_OL:
  case GUMBO_TAG_PRE:
  case GUMBO_TAG_SECTION:
  case GUMBO_TAG_SUMMARY:
  case GUMBO_TAG_TABLE:
  case GUMBO_TAG_TR:
  case GUMBO_TAG_UL:
  case GUMBO_TAG_BODY: return 1;
  default: return 0;
  }
}

// A link target worth showing beside its text: http(s) only (mailto: and
// cid: repeat the text or mean nothing to a reader), and not absurdly long.
std::string_view shown_link_target(const GumboElement& element) {
  const char* href = attribute(element, "href");
  if (href == nullptr) return {};
  const std::string_view target = detail::trim_ascii(href);
  if (target.size() > 300) return {};
  if (!detail::istarts_with_ascii(target, "http://") && !detail::istarts_with_ascii(target, "https://")) return {};
  return target;
}

bool link_text_names_target(std::string_view text, std::string_view target) {
  text = detail::trim_ascii(text);
  if (text.empty()) return true; // an image link: no text to annotate
  const auto strip = [](std::string_view url) {
    for (const std::string_view scheme : {"https://", "http://"}) {
      if (detail::istarts_with_ascii(url, scheme)) url.remove_prefix(scheme.size());
    }
    while (!url.empty() && url.back() == '/')
      url.remove_suffix(1);
    return url;
  };
  return detail::iequals_ascii(strip(text), strip(target));
}

struct Frame {
  const GumboNode* node;
  unsigned int next_child = 0;
  std::size_t output_offset = 0; // where a link's text starts
  int list_counter = 0;          // for <ol>: the next item's number
  bool entered = false;
};

class Renderer {
public:
  std::string render(const GumboNode* root) && {
    stack_.push_back(Frame{root});
    while (!stack_.empty()) {
      Frame& frame = stack_.back();
      const GumboNode* node = frame.node;
      if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_DOCUMENT && node->type != GUMBO_NODE_TEMPLATE) {
        leaf(*node);
        stack_.pop_back();
        continue;
      }
      if (!frame.entered) {
        frame.entered = true;
        if (node->type != GUMBO_NODE_DOCUMENT && !enter(frame)) {
          stack_.pop_back();
          continue;
        }
      }
      const GumboVector& children =
          node->type == GUMBO_NODE_DOCUMENT ? node->v.document.children : node->v.element.children;
      if (frame.next_child < children.length) {
        const auto* child = static_cast<const GumboNode*>(children.data[frame.next_child++]);
        stack_.push_back(Frame{child}); // invalidates `frame`
        continue;
      }
      if (node->type != GUMBO_NODE_DOCUMENT) leave(frame);
      stack_.pop_back();
    }
    return std::move(builder_).finish();
  }

private:
  void leaf(const GumboNode& node) {
    if (node.type != GUMBO_NODE_TEXT && node.type != GUMBO_NODE_WHITESPACE && node.type != GUMBO_NODE_CDATA) return;
    if (preformatted_depth_ > 0) {
      builder_.preformatted(node.v.text.text);
    } else {
      builder_.text(node.v.text.text);
    }
  }

  // Returns false when the element's content is to be skipped.
  bool enter(Frame& frame) {
    const GumboElement& element = frame.node->v.element;
    if (is_hidden(element)) return false;
    builder_.block_boundary(block_newlines(element.tag));
    switch (element.tag) {
    case GUMBO_TAG_BR: builder_.line_break(); break;
    case GUMBO_TAG_BLOCKQUOTE: builder_.enter_quote(); break;
    case GUMBO_TAG_PRE: ++preformatted_depth_; break;
    case GUMBO_TAG_TD:
    case GUMBO_TAG_TH: builder_.space(); break;
    case GUMBO_TAG_OL: frame.list_counter = 1; break;
    case GUMBO_TAG_LI: list_item_marker(); break;
    case GUMBO_TAG_A: frame.output_offset = builder_.size(); break;
    default: break;
    }
    return true;
  }

  void leave(Frame& frame) {
    const GumboElement& element = frame.node->v.element;
    switch (element.tag) {
    case GUMBO_TAG_BLOCKQUOTE: builder_.leave_quote(); break;
    case GUMBO_TAG_PRE: --preformatted_depth_; break;
    case GUMBO_TAG_TD:
    case GUMBO_TAG_TH: builder_.space(); break;
    case GUMBO_TAG_A: {
      const auto target = shown_link_target(element);
      // Each target is shown once: a reader needs it once, and the parser
      // re-creates an unclosed <a> in every later paragraph (an 8-byte
      // "<p>x</p>" would otherwise repeat a 300-byte URL).
      if (!target.empty() && !link_text_names_target(builder_.written_since(frame.output_offset), target) &&
          shown_targets_.emplace(target).second) {
        builder_.text(" <");
        builder_.text(target);
        builder_.text(">");
      }
      break;
    }
    default: break;
    }
    builder_.block_boundary(block_newlines(element.tag));
  }

  // "- " in an unordered list, "3. " in an ordered one, indented by nesting.
  void list_item_marker() {
    Frame* list = nullptr;
    int nesting = 0;
    for (auto it = stack_.rbegin() + 1; it != stack_.rend(); ++it) {
      if (it->node->type != GUMBO_NODE_ELEMENT) continue;
      const GumboTag tag = it->node->v.element.tag;
      if (tag == GUMBO_TAG_UL || tag == GUMBO_TAG_OL || tag == GUMBO_TAG_MENU || tag == GUMBO_TAG_DIR) {
        if (list == nullptr) list = &*it;
        ++nesting;
        if (nesting > 8) break;
      }
    }
    std::string marker(static_cast<std::size_t>(nesting > 1 ? 2 * (nesting - 1) : 0), ' ');
    if (list != nullptr && list->node->v.element.tag == GUMBO_TAG_OL) {
      marker += std::to_string(list->list_counter++) + ". ";
    } else {
      marker += "- ";
    }
    builder_.marker(marker);
  }

  TextBuilder builder_;
  std::vector<Frame> stack_;
  std::unordered_set<std::string> shown_targets_;
  int preformatted_depth_ = 0;
};

// Lines without trailing spaces, at most one blank line in a row, none at the ends.
std::string tidy(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  int blank_run = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    if (line.find_first_not_of("> ") == std::string_view::npos) {
      ++blank_run;
    } else {
      if (!out.empty()) out.append(blank_run > 0 ? "\n\n" : "\n");
      blank_run = 0;
      out.append(line);
    }
    start = end + 1;
  }
  return out;
}

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool is_formatting_element(std::string_view name) {
  for (const std::string_view formatting :
       {"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u"}) {
    if (detail::iequals_ascii(name, formatting)) return true;
  }
  return false;
}

// The HTML before the start tag that would exceed kMaxStartTags or
// kMaxFormattingTags. A lexical count, not a parse: it may count a "<b" in a
// comment or script, which only makes the cut earlier.
std::string_view cap_start_tags(std::string_view html) {
  std::size_t start_tags = 0;
  std::size_t formatting_tags = 0;
  for (std::size_t i = 0; i + 1 < html.size(); ++i) {
    if (html[i] != '<' || !is_ascii_letter(html[i + 1])) continue;
    std::size_t end = i + 1;
    while (end < html.size() && end - i <= 8 &&
           (is_ascii_letter(html[end]) || (html[end] >= '0' && html[end] <= '9'))) {
      ++end;
    }
    if (++start_tags > kMaxStartTags) return html.substr(0, i);
    if (is_formatting_element(html.substr(i + 1, end - i - 1)) && ++formatting_tags > kMaxFormattingTags) {
      return html.substr(0, i);
    }
  }
  return html;
}

} // namespace

std::string html_to_text(std::string_view html) noexcept {
  try {
    const std::string clean = detail::sanitize_text(detail::utf8_prefix(html, kMaxHtmlBytes));
    std::string_view input = cap_start_tags(clean);
    while (true) {
      ParserBudget budget;
      const GumboOptions options = budget.options();
      GumboOutput* output = budget.parse(options, input);
      if (output != nullptr) {
        std::string rendered = Renderer{}.render(output->document);
        gumbo_destroy_output(&options, output);
        return tidy(rendered);
      }
      if (input.size() <= kMinRetryBytes) return {};
      input = detail::utf8_prefix(input, input.size() / 2);
    }
  } catch (...) {
    // Only allocation can fail here; no text is the honest answer.
    return {};
  }
}

} // namespace fte::mail
