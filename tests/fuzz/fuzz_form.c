/*
 * libFuzzer target: GitHub's form-encoded bodies (payload=<urlencoded
 * JSON>), through libevent's query parser and then the push parser.
 */
#define FUZZ_HOST GIT_HOST_AUTO
#define FUZZ_EVENT_HEADER "X-GitHub-Event"
#define FUZZ_EVENT "push"
#define FUZZ_URL "https://github.com/binkkatal/sample_app.git"
#define FUZZ_CONTENT_TYPE "application/x-www-form-urlencoded"
#include "fuzz_push.h"
