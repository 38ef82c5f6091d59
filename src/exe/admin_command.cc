#include "exe/admin_command.h"

#include <future>
#include <iostream>

#include "common/ids.h"
#include "common/time.h"
#include "exe/profile.h"
#include "services/auth/jwt.h"
#include "services/auth/password.h"

namespace parley::exe {
namespace {

template <typename T, typename Start>
Result<T> Wait(Start start) {
  std::promise<Result<T>> p;
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

int Fail(const std::string& what) {
  std::cerr << "parleyd admin: " << what << "\n";
  return 1;
}

// The configured store, without the bus or the cluster state (an admin command joins no cluster).
Result<std::unique_ptr<Profile>> OpenStoreOnly(const Config& cfg) {
  Config local = cfg;
  local.bus = "inproc";
  local.cluster = "memory";
  return Profile::Open(local, {});
}

}  // namespace

int AdminCreateUser(const Config& cfg, const std::string& username, const std::string& password,
                    const std::string& display_name) {
  if (password.size() < 8 || password.size() > 1024) return Fail("password must be 8-1024 bytes");
  std::string name = username;
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool valid = name.size() >= 3 && name.size() <= 32;
  for (char c : name) valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.');
  if (!valid) return Fail("username must be 3-32 characters of a-z, 0-9, _ and .");
  auto profile = OpenStoreOnly(cfg);
  if (!profile.ok()) return Fail(profile.error().message);
  storage::AuthStore& store = (*profile)->auth();
  auto hash = auth::HashPassword(password, {static_cast<unsigned long long>(cfg.argon2_opslimit),
                                            static_cast<size_t>(cfg.argon2_memlimit_kib) * 1024});
  if (!hash.ok()) return Fail(hash.error().message);
  storage::User u;
  u.user_id = NewUuidV4();
  u.username = name;
  u.display_name = display_name.empty() ? name : display_name;
  u.password_hash = *hash;
  u.status = "online";
  u.created_at = NowMs();
  u.is_admin = true;
  auto r = Wait<Unit>([&](auto done) { store.CreateUser(u, done); });
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kConflict)
      return Fail("username " + name + " is taken; use `parleyd admin grant " + name + "`");
    return Fail(r.error().message);
  }
  std::cout << "created admin " << name << " (user_id " << u.user_id << ")\n";
  return 0;
}

int AdminGrant(const Config& cfg, const std::string& username) {
  auto profile = OpenStoreOnly(cfg);
  if (!profile.ok()) return Fail(profile.error().message);
  storage::AuthStore& store = (*profile)->auth();
  auto u = store.GetUserByUsername(username);
  if (!u.ok()) return Fail("no user named " + username);
  auto r = Wait<Unit>([&](auto done) { store.SetAdmin(u->user_id, true, done); });
  if (!r.ok()) return Fail(r.error().message);
  std::cout << "granted admin to " << username << "\n";
  return 0;
}

int AdminRotateSigningKey(const Config& cfg) {
  std::string path = (cfg.secrets_dir.empty() ? cfg.data_dir : cfg.secrets_dir) + "/jwt_ed25519.key";
  if (Status st = auth::JwtSigner::RotateKeyFile(path); !st.ok()) return Fail(st.error().message);
  std::cout << "new signing key in " << path << "; restart parleyd to use it (tokens of the "
            << "previous key keep working for 15 minutes after the restart)\n";
  return 0;
}

}  // namespace parley::exe
