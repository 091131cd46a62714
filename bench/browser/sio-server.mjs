// The Socket.IO 4.8 server of the browser benchmark: WebSocket transport
// only, the same handlers as the native hisock server
// (bench/src/bin/browser_server.rs):
//   echo(text, ack)     -> ack(text)
//   sink(text)          -> counts it
//   count(ack)          -> ack(how many sink events were counted)
//   stream([n, text], ack) -> n events "item" with text to the asker, then ack(n)
// Prints "READY url=http://127.0.0.1:PORT" once listening. Stops on
// SIGTERM or after --max-seconds (default 900).

import { createServer } from "node:http";
import { Server } from "socket.io";

const args = process.argv.slice(2);
const maxIndex = args.indexOf("--max-seconds");
const maxSeconds = maxIndex >= 0 ? Number(args[maxIndex + 1]) : 900;

const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });
let sunk = 0;

io.on("connection", (socket) => {
  socket.on("echo", (text, ack) => ack(text));
  socket.on("sink", () => {
    sunk += 1;
  });
  socket.on("count", (ack) => ack(sunk));
  socket.on("stream", ([n, text], ack) => {
    for (let i = 0; i < n; i++) socket.emit("item", text);
    ack(n);
  });
});

http.listen(0, "127.0.0.1", () => {
  process.stdout.write(`READY url=http://127.0.0.1:${http.address().port}\n`);
});

const stop = () => {
  io.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setTimeout(() => {
  process.stderr.write(`sio-server: stopping after ${maxSeconds} s (--max-seconds)\n`);
  stop();
}, maxSeconds * 1000).unref();
