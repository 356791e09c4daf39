#include "fte/common/ids.hpp"
#include "fte/common/text.hpp"

#include <array>
#include <cctype>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace fte {
namespace {

using UuidBytes = std::array<unsigned char, 16>;

std::string format_uuid(const UuidBytes& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out.push_back('-');
    }
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0f]);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

UuidBytes parse_uuid(std::string_view text) {
  if (!is_uuid(text)) {
    throw std::invalid_argument("not a UUID: " + std::string(text));
  }
  UuidBytes bytes{};
  std::size_t out = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '-') {
      ++i;
      continue;
    }
    bytes[out++] = static_cast<unsigned char>(hex_value(text[i]) * 16 + hex_value(text[i + 1]));
    i += 2;
  }
  return bytes;
}

} // namespace

bool is_uuid(std::string_view text) {
  if (text.size() != 36) {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
    } else if (hex_value(text[i]) < 0) {
      return false;
    }
  }
  return true;
}

std::string random_uuid() {
  UuidBytes bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("random_uuid: OpenSSL RAND_bytes failed");
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  return format_uuid(bytes);
}

std::string random_bytes(std::size_t count) {
  std::string bytes(count, '\0');
  if (count > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
    throw std::runtime_error("random_bytes: OpenSSL RAND_bytes failed");
  }
  return bytes;
}

std::string name_based_uuid(std::string_view ns, std::string_view name) {
  const UuidBytes ns_bytes = parse_uuid(ns);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_len = 0;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), ns_bytes.data(), ns_bytes.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), name.data(), name.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &digest_len) != 1) {
    throw std::runtime_error("name_based_uuid: SHA-1 failed");
  }
  UuidBytes bytes{};
  std::copy_n(digest.begin(), bytes.size(), bytes.begin());
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x50);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  return format_uuid(bytes);
}

EventId event_id_from_provider(std::string_view provider, std::string_view provider_id) {
  std::string name;
  name.reserve(provider.size() + 1 + provider_id.size());
  name.append(provider).append(":").append(provider_id);
  return EventId(name_based_uuid(kFteNamespace, name));
}

EventId derived_event_id(const EventId& cause, std::string_view producer, std::string_view output) {
  std::string name = "derived:";
  name.append(cause.str()).append(":").append(producer).append(":").append(output);
  return EventId(name_based_uuid(kFteNamespace, name));
}

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("sha256_hex: SHA-256 failed");
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), length));
}

} // namespace fte
