// Cooperative Ctrl-C handling: the first SIGINT sets a flag that long-running
// loops poll so they can finish the current output line and stop cleanly; a
// second SIGINT restores the default action (terminates at once).
#pragma once

namespace gpt2 {

void install_interrupt_handler();
bool interrupt_requested();
void clear_interrupt();  // for tests

}  // namespace gpt2
