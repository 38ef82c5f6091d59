#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"

namespace parley::cli {

std::string ReadPassword(const std::string& given, const std::string& prompt) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("PARLEY_PASSWORD"); env && *env) return env;
  std::string pw;
  if (!::isatty(STDIN_FILENO)) {
    std::getline(std::cin, pw);
    return pw;
  }
  std::cerr << prompt << std::flush;
  termios old{};
  ::tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::getline(std::cin, pw);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cerr << "\n";
  return pw;
}

}  // namespace parley::cli
