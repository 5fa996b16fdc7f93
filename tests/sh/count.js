// count.js -- the Node.js program of tests/sh/real_programs.sh and threads.sh.
// node count.js FILE LAST: writes "js i" for i = 1..LAST to FILE through
// libuv's thread pool (fs.write), then to stdout, one every 50 ms (a timer),
// keeping s = the sum of i*i; then prints "js done s".
const fs = require("fs");
const path = process.argv[2], last = Number(process.argv[3]);
const fd = fs.openSync(path, "a");
let s = 0, i = 1;
function step() {
	fs.write(fd, "js " + i + "\n", (err) => {
		if (err) throw err;
		console.log("js " + i);
		s += i * i;
		if (++i <= last)
			setTimeout(step, 50);
		else {
			console.log("js done " + s);
			fs.closeSync(fd);
		}
	});
}
step();
