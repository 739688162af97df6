// Child process: a bare node:dgram echo server on 127.0.0.1; sends its port to the parent.
import dgram from 'node:dgram';

const socket = dgram.createSocket('udp4');
socket.on('message', (datagram, rinfo) => socket.send(datagram, rinfo.port, rinfo.address));
socket.bind(0, '127.0.0.1', () => process.send({ type: 'ready', port: socket.address().port }));
process.on('disconnect', () => process.exit(0));
