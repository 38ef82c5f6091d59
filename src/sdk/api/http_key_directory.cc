#include "sdk/api/http_key_directory.h"

namespace parley::sdk {

Result<Unit> HttpKeyDirectory::Publish(const PublishedKeys& keys) { return api_.PutKeys(keys); }

Result<int64_t> HttpKeyDirectory::CountOneTimePrekeys() { return api_.CountOneTimePrekeys(); }

Result<std::vector<PrekeyBundle>> HttpKeyDirectory::ListDevices(const std::string& user_id) {
  return api_.ListKeyDevices(user_id);
}

Result<PrekeyBundle> HttpKeyDirectory::ClaimBundle(const std::string& user_id,
                                                   const std::string& device_id) {
  return api_.ClaimBundle(user_id, device_id);
}

Result<Unit> HttpKeyDirectory::SendToDevice(
    const std::map<std::string, std::map<std::string, std::string>>& messages) {
  if (messages.empty()) return Unit{};
  auto r = api_.SendToDevice(messages);
  if (!r.ok()) return r.error();
  return Unit{};
}

}  // namespace parley::sdk
