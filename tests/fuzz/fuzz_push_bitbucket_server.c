/* libFuzzer target: Bitbucket Data Center repo:refs_changed payloads. */
#define FUZZ_HOST GIT_HOST_BITBUCKET_SERVER
#define FUZZ_EVENT_HEADER "X-Event-Key"
#define FUZZ_EVENT "repo:refs_changed"
#define FUZZ_URL "https://bitbucket.example.com/scm/myproject/test-repo.git"
#include "fuzz_push.h"
