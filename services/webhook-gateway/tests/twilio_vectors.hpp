#pragma once

// Signed requests for the Twilio tests. Every signature here was computed by
// Twilio's own Python helper (Debian python3-twilio, RequestValidator) or,
// for repeated names, by Python's hmac over the text twilio-python builds:
// an implementation independent of the gateway's.
#include <string_view>

namespace fte::gateway::test_vectors {

/// PROTOCOLS.md (twilio-python's tests): auth token 12345.
inline constexpr std::string_view kVectorToken = "12345";
inline constexpr std::string_view kVectorUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";
inline constexpr std::string_view kVectorBody =
    "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
inline constexpr std::string_view kVectorSignature = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
inline constexpr std::string_view kVectorSignatureWithPort = "kvajT1Ptam85bY51eRf/AJRuM3w=";
inline constexpr std::string_view kVectorJsonBody = R"({"property": "value", "boolean": true})";
inline constexpr std::string_view kVectorJsonHash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
inline constexpr std::string_view kVectorJsonSignature = "a9nBmqA0ju/hNViExpshrM61xv4=";
/// The form vector over http://mycompany.com:80/... (twilio-python, by hand).
inline constexpr std::string_view kVectorHttpPort80Signature = "0ZXoZLH/DfblKGATFgpif+LLRf4=";

/// Our own: a WhatsApp message through a Messaging Service with two media
/// items and a UTF-8 profile name, and a status callback.
inline constexpr std::string_view kToken = "f4c3b00cf4c3b00cf4c3b00cf4c3b00c";
inline constexpr std::string_view kPreviousToken = "0ld70k3n0ld70k3n0ld70k3n0ld70k3n";
inline constexpr std::string_view kMessageUrl = "https://support.example.com/webhooks/twilio/whatsapp";
inline constexpr std::string_view kMessageBody =
    "SmsMessageSid=SM1f0e8ee2e3a44a3d8b0a3c5b1f2e4d6a&NumMedia=2&ProfileName=Zo%C3%AB+%C3%85ngstr%C3%B6m&"
    "MessageType=image&SmsSid=SM1f0e8ee2e3a44a3d8b0a3c5b1f2e4d6a&WaId=15551234567&SmsStatus=received&"
    "Body=Hello+%26+welcome+%3D+100%25+%2B+more&To=whatsapp%3A%2B14155238886&"
    "MessagingServiceSid=MG0123456789abcdef0123456789abcdef&NumSegments=1&ReferralNumMedia=0&"
    "MessageSid=SM1f0e8ee2e3a44a3d8b0a3c5b1f2e4d6a&AccountSid=AC0123456789abcdef0123456789abcdef&"
    "From=whatsapp%3A%2B15551234567&MediaContentType0=image%2Fjpeg&"
    "MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC01%2FMessages%2FSM1f%2FMedia%2FME01&"
    "MediaContentType1=application%2Fpdf&"
    "MediaUrl1=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC01%2FMessages%2FSM1f%2FMedia%2FME02&"
    "ApiVersion=2010-04-01";
inline constexpr std::string_view kMessageSignature = "tGcz5OU1LdW1ZZKGzW+fVfrOlE8=";
/// The same message signed with kPreviousToken (a rotation in progress).
inline constexpr std::string_view kMessageSignaturePrevious = "6kYffWIw5gFXTpCZwGZKTM2cGr4=";

inline constexpr std::string_view kStatusUrl = "https://support.example.com/webhooks/twilio/status";
inline constexpr std::string_view kStatusBody =
    "ChannelToAddress=%2B1555123XXXX&ApiVersion=2010-04-01&MessageStatus=delivered&"
    "SmsSid=SM9a8b7c6d5e4f30211f0e0d0c0b0a0908&SmsStatus=delivered&ChannelInstallSid=XE01&"
    "To=whatsapp%3A%2B15551234567&From=whatsapp%3A%2B14155238886&MessageSid=SM9a8b7c6d5e4f30211f0e0d0c0b0a0908&"
    "StructuredMessage=false&AccountSid=AC0123456789abcdef0123456789abcdef&ChannelPrefix=whatsapp";
inline constexpr std::string_view kStatusSignature = "62HiO32Hee8ccSZejc72HrR9B/k=";

/// A repeated name (Tag: zeta, alpha, zeta) on a URL with a query, signed
/// three ways: twilio-python (values sorted, all kept), twilio-node (sorted,
/// each once) and values in the order received.
inline constexpr std::string_view kRepeatedUrl = "https://support.example.com/webhooks/twilio/whatsapp?x=1";
inline constexpr std::string_view kRepeatedBody =
    "To=whatsapp%3A%2B14155238886&Tag=zeta&Tag=alpha&Tag=zeta&From=whatsapp%3A%2B15551234567";
inline constexpr std::string_view kRepeatedSignedText =
    "https://support.example.com/webhooks/twilio/whatsapp?x=1"
    "Fromwhatsapp:+15551234567TagalphaTagzetaTagzetaTowhatsapp:+14155238886";
inline constexpr std::string_view kRepeatedSignatureSorted = "X2V74godWW7+U1SdpMcFhSiiLwE=";
inline constexpr std::string_view kRepeatedSignatureUnique = "V0dFbTOjdQaxT5YG7nZgXWtwCMI=";
inline constexpr std::string_view kRepeatedSignatureReceived = "YRH+hvjkvk0rcZd1HZmhldpO7n0=";

} // namespace fte::gateway::test_vectors
