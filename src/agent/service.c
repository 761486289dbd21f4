#include "agent/service.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/version.h"
#include "podshim/agent/v1/agent.pb-c.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

static void h_hello(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;
        Podshim__Agent__V1__HelloResponse resp = PODSHIM__AGENT__V1__HELLO_RESPONSE__INIT;
        _cleanup_err_ struct ps_err *err = NULL;
        _cleanup_free_ char *boot_id = NULL;
        struct utsname u;

        (void)msg; /* host_version is informational */
        if (ps_read_file(s->boot_id_path, 64, &boot_id, NULL, &err) < 0) {
                ps_err_prefix(&err, "boot id");
                return ttrpc_call_fail(call, err);
        }
        boot_id[strcspn(boot_id, "\n")] = '\0';
        if (uname(&u) < 0)
                return ttrpc_call_failf(call, PS_INTERNAL, "uname: %m");
        resp.version = (char *)(uintptr_t)ps_build_version;
        resp.kernel_release = u.release;
        resp.boot_id = boot_id;
        resp.pid = (uint32_t)getpid();
        ttrpc_call_reply(call, &resp.base);
}

static void h_shutdown(void *data, struct ttrpc_call *call, const ProtobufCMessage *msg)
{
        struct ps_agent_service *s = data;

        (void)msg;
        ttrpc_call_reply(call, NULL);
        if (s->on_shutdown)
                s->on_shutdown(s->data);
}

static const struct ttrpc_method agent_methods[] = {
    {"Hello", &podshim__agent__v1__hello_request__descriptor, h_hello},
    {"Shutdown", NULL, h_shutdown},
};

void ps_agent_service_init(struct ps_agent_service *s, ps_agent_shutdown_fn on_shutdown, void *data)
{
        *s = (struct ps_agent_service){
            .svc = {.name = PS_AGENT_SERVICE_NAME,
                    .methods = agent_methods,
                    .n_methods = sizeof(agent_methods) / sizeof(agent_methods[0])},
            .on_shutdown = on_shutdown,
            .data = data,
            .boot_id_path = BOOT_ID_PATH,
        };
        s->svc.data = s;
}
