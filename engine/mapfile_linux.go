package engine

import "syscall"

// mapPopulate fills a mapping's page tables when it is made (mapFile).
const mapPopulate = syscall.MAP_POPULATE
