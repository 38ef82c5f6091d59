// Boost.JSON and Boost.URL compiled from source into the fuzz build, so their parsers carry the
// fuzzer's coverage instrumentation (the distribution's libraries do not).
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
