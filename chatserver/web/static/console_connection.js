/* The page's one agent socket (AgentSocket, agent_socket.js). The entry module makes it with the
   frame handlers; the parts send on it. A live binding, so every importer sees it once made. */

export let socket = null;

export function connect(handlers) {
  socket = new AgentSocket(handlers);
  return socket;
}
