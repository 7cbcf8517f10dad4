/* Terminal handling for -t: raw mode restored at exit (also on fatal
 * signals), and the container's tty resized now and on every SIGWINCH. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

volatile int cli_winch_pending;
static struct termios saved;
static int saved_fd = -1;

void cli_tty_restore(void)
{
	if (saved_fd >= 0) {
		tcsetattr(saved_fd, TCSADRAIN, &saved);
		saved_fd = -1;
	}
}

int cli_tty_raw(int fd)
{
	if (!isatty(fd))
		return -ENOTTY;
	if (tcgetattr(fd, &saved) < 0)
		return -errno;
	struct termios raw = saved;
	/* like docker: fully raw, the container's own tty does the \n → \r\n */
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSADRAIN, &raw) < 0)
		return -errno;
	saved_fd = fd;
	atexit(cli_tty_restore);
	return 0;
}

int cli_tty_size(int fd, unsigned *h, unsigned *w)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return -errno;
	*h = ws.ws_row;
	*w = ws.ws_col;
	return 0;
}

void cli_tty_resize(struct cli *cli, const char *what, const char *id)
{
	unsigned h = 0, w = 0;
	int fd = isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDIN_FILENO;
	if (cli_tty_size(fd, &h, &w) < 0 || h == 0 || w == 0)
		return;
	char path[512];
	snprintf(path, sizeof(path), "/%s/%s/resize?h=%u&w=%u", what, id, h, w);
	/* a failed resize (container gone) is not worth an error */
	cli_call(cli, "POST", path, NULL, NULL);
	skiff_error_clear(&cli->err);
}

void cli_tty_winch_cb(void *arg)
{
	struct cli_resize_ctx *c = arg;
	cli_tty_resize(c->cli, c->what, c->id);
}

static void on_winch(int sig)
{
	(void)sig;
	cli_winch_pending = 1;
}

void cli_tty_watch_winch(void)
{
	struct sigaction sa = { .sa_handler = on_winch };
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: poll() must wake up to send the resize */
	sigaction(SIGWINCH, &sa, NULL);
}
