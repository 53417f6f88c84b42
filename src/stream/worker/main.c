/* main.c — the stream worker: lands in the next commit. */
#include <stdio.h>

int main(void)
{
	fputs("error the stream worker is not built yet\n", stdout);
	return 1;
}
