mod socket;
pub mod tls;

pub use socket::{
    connect_tcp, connect_uds, Arrived, BufferedSocket, Socket, SocketIntoBox, WithSocket,
    WriteBuffer,
};
