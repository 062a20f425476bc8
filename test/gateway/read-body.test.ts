import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { readJsonBody } from '@glm-gateway/web/src/modules/gateway/read-body';

describe('reading a gateway request body', () => {
  it('a request whose client left before its body was read ends at once instead of waiting for ever', async () => {
    // The gateway reads the body only after the key is looked up, which can wait on the database.
    const outcome = new Promise<string>((resolve) => {
      const server = createServer((req: IncomingMessage) => {
        req.once('close', () => {
          const timer = setTimeout(() => resolve('still waiting after 2 s'), 2_000);
          readJsonBody(req, 1024).then(
            () => resolve('read a body that never arrived'),
            () => resolve('refused'),
          ).finally(() => {
            clearTimeout(timer);
            server.close();
          });
        });
      });
      server.listen(0, '127.0.0.1', () => {
        const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => {
          socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"mod');
          setTimeout(() => socket.destroy(), 50);
        });
      });
    });
    assert.equal(await outcome, 'refused');
  });
});
