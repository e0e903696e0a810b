/* libFuzzer target: GitLab push payloads. */
#define FUZZ_HOST GIT_HOST_GITLAB
#define FUZZ_EVENT_HEADER "X-Gitlab-Event"
#define FUZZ_EVENT "Push Hook"
#define FUZZ_URL "https://gitlab.example.com/mike/diaspora.git"
#include "fuzz_push.h"
