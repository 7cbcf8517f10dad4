/* A static UDP echo for the port tests (Debian's busybox nc has no -u):
 * prints each datagram on stdout (the container's log) and answers
 * "reply:<datagram>" to its sender. Usage: udpecho PORT */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("udpecho");
		return 1;
	}
	for (;;) {
		char buf[2048], out[2100];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			continue;
		buf[n] = 0;
		printf("%s\n", buf); /* logs are kept per line */
		fflush(stdout);
		int m = snprintf(out, sizeof(out), "reply:%s", buf);
		sendto(fd, out, m, 0, (struct sockaddr *)&from, fl);
	}
}
