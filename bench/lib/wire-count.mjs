// Counts every datagram this process sends, with its bytes: node:dgram's send is wrapped, so
// import this before whatever sends (a registry) loads.
import dgram from 'node:dgram';

export const wire = { datagrams: 0, bytes: 0 };
const send = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function countedSend(message, ...rest) {
  wire.datagrams++;
  wire.bytes += Buffer.isBuffer(message)
    ? message.length
    : Array.isArray(message)
      ? message.reduce((n, b) => n + b.length, 0)
      : Buffer.byteLength(message);
  return send.call(this, message, ...rest);
};
