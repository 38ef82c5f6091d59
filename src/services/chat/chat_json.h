// The contract's JSON shapes of chat objects, shared by HTTP responses, WebSocket frames and
// events so they never drift apart.
#pragma once

#include <boost/json/object.hpp>

#include "storage/message_store.h"

namespace parley::services {

boost::json::object MessageToJson(const storage::Message& m);
boost::json::object ToDeviceToJson(const storage::ToDeviceMessage& m);
boost::json::object ConversationToJson(const storage::ConversationSummary& c);

// The opaque get-messages cursor: per conversation the highest seq handed out, and the highest
// to-device id. Encoded as base64url JSON; decoding bounds its size and checks every field.
struct PendingCursor {
  storage::SeqFloors seqs;
  int64_t to_device = 0;
};
std::string EncodeCursor(const PendingCursor& c);
Result<PendingCursor> DecodeCursor(std::string_view text);

}  // namespace parley::services
