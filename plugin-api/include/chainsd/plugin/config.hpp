#pragma once
// Included first by every plugin-api header. Plugins use the Asio and Beast code compiled into
// the chainsd executable (exported with -rdynamic), so their io_context, services and coroutine
// frames are the engine's own: plugins must never compile a second copy of Asio.
#ifndef BOOST_ASIO_SEPARATE_COMPILATION
#define BOOST_ASIO_SEPARATE_COMPILATION
#endif
#ifndef BOOST_BEAST_SEPARATE_COMPILATION
#define BOOST_BEAST_SEPARATE_COMPILATION
#endif
#ifndef BOOST_ASIO_NO_DEPRECATED
#define BOOST_ASIO_NO_DEPRECATED
#endif
