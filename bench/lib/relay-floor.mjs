// Child process: the binary's input and output with nothing of udpchat in between, the baseline
// of its CPU per message. `receiver`: binds 127.0.0.1 (its port on stdout, first line), and
// for each datagram writes a line to stdout (as bob shows a message) and answers with a small
// one (as bob ACKs). `sender <port>`: for each stdin line, sends a datagram the size of a signed
// chat to that port, and for each answer writes a line to stdout (as alice's --json
// {"event":"delivered"}). No parsing, sealing, signing, tables or timers: only the reads, the
// writes and the wake-ups a message costs any process on this machine.
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

const CHAT = Buffer.alloc(400, 'x');
const ACK = Buffer.alloc(150, 'y');
const socket = dgram.createSocket('udp4');
const [role, port] = process.argv.slice(2);

if (role === 'receiver') {
  socket.on('message', (_datagram, from) => {
    process.stdout.write('[alice] a message\n');
    socket.send(ACK, from.port, from.address);
  });
  socket.bind(0, '127.0.0.1', () => process.stdout.write(`${socket.address().port}\n`));
} else {
  socket.on('message', () => process.stdout.write('{"event":"delivered"}\n'));
  socket.bind(0, '127.0.0.1', () => {
    createInterface({ input: process.stdin }).on('line', () =>
      socket.send(CHAT, Number(port), '127.0.0.1'),
    );
    process.stdout.write('ready\n');
  });
}
