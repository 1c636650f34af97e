package script

import "testing"

func TestRestrict(t *testing.T) {
	const c = "pid == 1"
	for _, tc := range []struct{ in, want string }{
		{`tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }`,
			`tracepoint:syscalls:sys_enter_openat /pid == 1/ { @[comm] = count(); }`},
		{`t:syscalls:sys_enter_openat /comm == "a/b"/ { printf("{%s}\n", str(args->filename)); }`,
			`t:syscalls:sys_enter_openat /(comm == "a/b") && (pid == 1)/ { printf("{%s}\n", str(args->filename)); }`},
		{"BEGIN { printf(\"hi\\n\"); }\n// a comment { }\nt:a:b,t:c:d{ if (1) { @x = 1; } }\ninterval:s:1 { exit(); }\nEND { clear(@x); }",
			"BEGIN { printf(\"hi\\n\"); }\n// a comment { }\nt:a:b,t:c:d /pid == 1/{ if (1) { @x = 1; } }\ninterval:s:1 { exit(); }\nEND { clear(@x); }"},
		{"/* { */ kprobe:f { }", "/* { */ kprobe:f /pid == 1/ { }"},
	} {
		if got := restrict(tc.in, c); got != tc.want {
			t.Errorf("restrict(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
