// HttpKeyDirectory: the E2EE engine's KeyDirectory (sdk/e2ee/ports.h) over the server's key
// endpoints and to-device queue, through an ApiClient (which handles tokens and refresh).
// Thread safety: as ApiClient (any thread). Errors: as ApiClient's.
#pragma once

#include "sdk/api/api_client.h"
#include "sdk/e2ee/ports.h"

namespace parley::sdk {

class HttpKeyDirectory : public KeyDirectory {
 public:
  // `api` must outlive this object.
  explicit HttpKeyDirectory(ApiClient& api) : api_(api) {}

  Result<Unit> Publish(const PublishedKeys& keys) override;
  Result<int64_t> CountOneTimePrekeys() override;
  Result<std::vector<PrekeyBundle>> ListDevices(const std::string& user_id) override;
  Result<PrekeyBundle> ClaimBundle(const std::string& user_id,
                                   const std::string& device_id) override;
  Result<Unit> SendToDevice(
      const std::map<std::string, std::map<std::string, std::string>>& messages) override;

 private:
  ApiClient& api_;
};

}  // namespace parley::sdk
