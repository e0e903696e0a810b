/* fmt: placeholder until its issue lands; it pretends nothing. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "gitsyncd/cmd.h"

int
cmd_fmt(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     strcmp(argv[1], "-h") == 0)) {
        printf("usage: gitsyncd fmt [--check] [PATH...]\n");
        return EXIT_OK;
    }
    fprintf(stderr, "gitsyncd fmt: not implemented yet\n");
    return EXIT_USAGE;
}
