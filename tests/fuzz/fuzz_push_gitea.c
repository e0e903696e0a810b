/* libFuzzer target: Gitea and Forgejo push payloads. */
#define FUZZ_HOST GIT_HOST_GITEA
#define FUZZ_EVENT_HEADER "X-Gitea-Event"
#define FUZZ_EVENT "push"
#define FUZZ_URL "https://try.gitea.io/gogits/hello-world.git"
#include "fuzz_push.h"
