/* Empty on purpose. Debian's libfreeradius-dev 3.2.1 ships autoconf.h with
 * `#include <freeradius/automask.h>` but not the file itself; nothing in it is
 * needed to use libfreeradius-radius, so an empty stub satisfies the include. */
