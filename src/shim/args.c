#include "shim/args.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"

/* Hand-rolled rather than getopt_long_only(): getopt prints its own
 * diagnostics to stderr (which is containerd's "address" pipe during start)
 * and keeps global state; Go's flag rules are small enough to spell out. */

enum flag_kind { FLAG_STRING, FLAG_BOOL };

struct flag_def {
        const char *name;
        enum flag_kind kind;
        size_t offset; /* of the char * or bool in struct ps_args */
};

static const struct flag_def flag_defs[] = {
    {"namespace", FLAG_STRING, offsetof(struct ps_args, ns)},
    {"id", FLAG_STRING, offsetof(struct ps_args, id)},
    {"address", FLAG_STRING, offsetof(struct ps_args, address)},
    {"publish-binary", FLAG_STRING, offsetof(struct ps_args, publish_binary)},
    {"bundle", FLAG_STRING, offsetof(struct ps_args, bundle)},
    {"socket", FLAG_STRING, offsetof(struct ps_args, socket)},
    {"debug", FLAG_BOOL, offsetof(struct ps_args, debug)},
    {"info", FLAG_BOOL, offsetof(struct ps_args, info)},
};

#define USAGE                                                                                      \
        "usage: containerd-shim-podshim-v2 -namespace <ns> -id <id> -address <addr> "              \
        "[-publish-binary <path>] [-bundle <dir>] [-socket <path>] [-debug] [-v] [-info] "         \
        "[start|delete]"

static const struct flag_def *flag_find(const char *name, size_t len)
{
        for (size_t i = 0; i < sizeof(flag_defs) / sizeof(flag_defs[0]); i++) {
                if (strlen(flag_defs[i].name) == len && strncmp(flag_defs[i].name, name, len) == 0)
                        return &flag_defs[i];
        }
        return NULL;
}

/* Go accepts the same spellings as strconv.ParseBool. */
static int parse_bool(const char *v, bool *ret)
{
        static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
        static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};

        for (size_t i = 0; i < 6; i++) {
                if (strcmp(v, yes[i]) == 0)
                        return *ret = true, 0;
                if (strcmp(v, no[i]) == 0)
                        return *ret = false, 0;
        }
        return -1;
}

/* Consumes one flag at argv[*i] (which starts with '-'); advances *i past
 * its value when the value is the next argument. */
static int parse_flag(int argc, char *const argv[], int *i, struct ps_args *a, struct ps_err **err)
{
        const char *arg = argv[*i], *name = arg + 1, *eq, *value = NULL;
        const struct flag_def *def;
        size_t len;

        if (*name == '-')
                name++;
        eq = strchr(name, '=');
        len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 0 || *name == '-' || *name == '=')
                return ps_err_set(err, PS_INVALID_ARGUMENT, "bad flag syntax: %s", arg);
        if (eq)
                value = eq + 1;

        if ((len == 1 && *name == 'v') || (len == 7 && strncmp(name, "version", 7) == 0)) {
                a->action = PS_ACTION_VERSION;
                return 0;
        }
        if ((len == 1 && *name == 'h') || (len == 4 && strncmp(name, "help", 4) == 0))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s", USAGE);

        def = flag_find(name, len);
        if (!def)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "flag provided but not defined: -%.*s",
                                  (int)len, name);
        if (def->kind == FLAG_BOOL) {
                bool *b = (bool *)((char *)a + def->offset);
                if (!value)
                        return *b = true, 0;
                if (parse_bool(value, b) < 0)
                        return ps_err_set(err, PS_INVALID_ARGUMENT,
                                          "invalid boolean value \"%s\" for -%s", value, def->name);
                return 0;
        }
        if (!value) {
                if (*i + 1 >= argc)
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "flag needs an argument: -%s",
                                          def->name);
                value = argv[++*i];
        }
        char **slot = (char **)((char *)a + def->offset);
        char *copy = strdup(value);
        if (!copy)
                return ps_err_errno(err, ENOMEM, PS_RESOURCE_EXHAUSTED, "parse -%s", def->name);
        free(*slot); /* Go keeps the last occurrence */
        *slot = copy;
        return 0;
}

static int parse_action(const char *word, struct ps_args *a, struct ps_err **err)
{
        if (a->action == PS_ACTION_VERSION)
                return 0;
        if (a->info) {
                a->action = PS_ACTION_INFO;
                return 0;
        }
        if (!word)
                a->action = PS_ACTION_SERVE;
        else if (strcmp(word, "start") == 0)
                a->action = PS_ACTION_START;
        else if (strcmp(word, "delete") == 0)
                a->action = PS_ACTION_DELETE;
        else
                return ps_err_set(err, PS_INVALID_ARGUMENT, "unknown action \"%s\"", word);
        return 0;
}

static int validate(const struct ps_args *a, struct ps_err **err)
{
        if (a->action == PS_ACTION_VERSION || a->action == PS_ACTION_INFO)
                return 0;
        if (!a->ns || !*a->ns)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "shim namespace cannot be empty");
        if (!ps_id_valid(a->ns))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid namespace \"%s\"", a->ns);
        if (!a->id || !*a->id)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "shim id cannot be empty");
        if (!ps_id_valid(a->id))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid id \"%s\"", a->id);
        return 0;
}

int ps_args_parse(int argc, char *const argv[], struct ps_args *ret, struct ps_err **err)
{
        struct ps_args a = {0};
        const char *action = NULL;
        int i;

        for (i = 1; i < argc; i++) {
                const char *arg = argv[i];

                if (arg[0] != '-' || arg[1] == '\0')
                        break; /* first non-flag: the action */
                if (strcmp(arg, "--") == 0) {
                        i++;
                        break;
                }
                if (parse_flag(argc, argv, &i, &a, err) < 0)
                        goto fail;
        }
        if (i < argc)
                action = argv[i];
        if (parse_action(action, &a, err) < 0 || validate(&a, err) < 0)
                goto fail;
        *ret = a;
        return 0;
fail:
        ps_args_clear(&a);
        return -1;
}

void ps_args_clear(struct ps_args *a)
{
        if (!a)
                return;
        free(a->ns);
        free(a->id);
        free(a->address);
        free(a->publish_binary);
        free(a->bundle);
        free(a->socket);
        *a = (struct ps_args){0};
}
