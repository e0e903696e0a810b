/* libFuzzer target: Bitbucket Cloud repo:push payloads. */
#define FUZZ_HOST GIT_HOST_BITBUCKET
#define FUZZ_EVENT_HEADER "X-Event-Key"
#define FUZZ_EVENT "repo:push"
#define FUZZ_URL "https://bitbucket.org/team_name/repo_name.git"
#include "fuzz_push.h"
