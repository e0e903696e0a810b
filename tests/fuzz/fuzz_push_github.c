/* libFuzzer target: GitHub push payloads. */
#define FUZZ_HOST GIT_HOST_GITHUB
#define FUZZ_EVENT_HEADER "X-GitHub-Event"
#define FUZZ_EVENT "push"
#define FUZZ_URL "https://github.com/binkkatal/sample_app.git"
#include "fuzz_push.h"
