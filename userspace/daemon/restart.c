/* Restart policies as dockerd's restart manager applies them: which exits
 * lead to a restart, and the back-off between restarts (100 ms doubling,
 * reset after 10 s of running, capped at a minute). */
#include "container-config.h"

#include <errno.h>
#include <string.h>

#include "../lib/json.h"

#define RESTART_FIRST_MS 100
#define RESTART_MAX_MS 60000
#define RESTART_RESET_SECONDS 10.0

int skiff_restart_policy_validate(const json_t *hc, struct skiff_error *err)
{
	json_t *rp = json_object_get(hc, "RestartPolicy");
	const char *name = skiff_json_str(rp, "Name", "");
	int64_t max = skiff_json_int(rp, "MaximumRetryCount", 0);

	if (rp && !json_is_null(rp) && !json_is_object(rp))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "json: cannot unmarshal into Go struct field HostConfig.RestartPolicy");
	if (json_object_get(rp, "Name") && !json_is_string(json_object_get(rp, "Name")))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "json: cannot unmarshal number into Go struct field RestartPolicy.HostConfig.RestartPolicy.Name of type container.RestartPolicyMode");
	if (!*name || !strcmp(name, "no") || !strcmp(name, "always") || !strcmp(name, "unless-stopped")) {
		if (max != 0)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid restart policy: maximum retry count can only be used with 'on-failure'");
	} else if (!strcmp(name, "on-failure")) {
		if (max < 0)
			return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
					       "invalid restart policy: maximum retry count cannot be negative");
	} else {
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "invalid restart policy: unknown policy '%s'; use one of 'no', 'always', "
				       "'on-failure', or 'unless-stopped'",
				       name);
	}
	if (skiff_json_bool(hc, "AutoRemove", false) && *name && strcmp(name, "no"))
		return skiff_error_set(err, SKIFF_EINVAL, EINVAL,
				       "can't create 'AutoRemove' container with restart policy");
	return 0;
}

bool skiff_restart_should(const json_t *hc, int exit_code, int restart_count, bool manual_stop, bool daemon_start)
{
	json_t *rp = json_object_get(hc, "RestartPolicy");
	const char *name = skiff_json_str(rp, "Name", "no");
	int64_t max = skiff_json_int(rp, "MaximumRetryCount", 0);

	if (!strcmp(name, "always"))
		return daemon_start || !manual_stop; /* a user stop holds until the daemon restarts */
	if (manual_stop)
		return false;
	if (!strcmp(name, "unless-stopped"))
		return true;
	if (!strcmp(name, "on-failure"))
		return exit_code != 0 && (max == 0 || restart_count < max);
	return false;
}

int64_t skiff_restart_next_delay(struct skiff_restart_state *st, double ran_seconds)
{
	if (ran_seconds >= RESTART_RESET_SECONDS)
		st->delay_ms = 0;
	st->delay_ms = st->delay_ms ? st->delay_ms * 2 : RESTART_FIRST_MS;
	if (st->delay_ms > RESTART_MAX_MS)
		st->delay_ms = RESTART_MAX_MS;
	return st->delay_ms;
}
